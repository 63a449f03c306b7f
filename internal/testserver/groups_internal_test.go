package testserver

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// TestAppends reads O_APPEND from /proc, as goTestStderr reads it of the
// go command's standard error.
func TestAppends(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/proc/PID/fdinfo is Linux's")
	}
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
