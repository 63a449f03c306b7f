package testserver

import (
	"os"
	"path/filepath"
	"testing"
)

// TestFileOfSharesTheOffset: what is written through fileOf's duplicate
// moves the offset that the process's own descriptor writes at, so that
// go test's next lines follow the skipped groups' lines in a file.
func TestFileOfSharesTheOffset(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out")
	f, err := os.Create(path) // as go test > file: no O_APPEND
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dup, err := fileOf(os.Getpid(), int(f.Fd()))
	if err != nil {
		t.Skipf("pidfd_getfd refused here (goTestStderr falls back): %v", err)
	}
	for _, w := range []struct {
		f *os.File
		s string
	}{{f, "go 1\n"}, {dup, "ours\n"}, {f, "go 2\n"}} {
		if _, err := w.f.WriteString(w.s); err != nil {
			t.Fatal(err)
		}
	}
	dup.Close()
	if got, _ := os.ReadFile(path); string(got) != "go 1\nours\ngo 2\n" {
		t.Errorf("file = %q, want each line after the one before", got)
	}
}

// TestAppends reads O_APPEND from /proc, as goTestStderr reads it of the
// go command's standard error where pidfd_getfd is refused.
func TestAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out")
	for _, tt := range []struct {
		name string
		flag int
		want bool
	}{
		{"> file", os.O_WRONLY | os.O_CREATE | os.O_TRUNC, false},
		{">> file", os.O_WRONLY | os.O_CREATE | os.O_APPEND, true},
	} {
		f, err := os.OpenFile(path, tt.flag, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		if got := appends(os.Getpid(), int(f.Fd())); got != tt.want {
			t.Errorf("%s: appends = %v, want %v", tt.name, got, tt.want)
		}
		f.Close()
	}
}
