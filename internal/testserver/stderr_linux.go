package testserver

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// goTestStderr returns the standard error of the go command that runs
// this test binary, else standard output (which go test shows only with
// -v). It takes the go command's own file descriptor (pidfd_getfd), so
// that what is written there moves the offset that the go command writes
// at: in a file (go test > file 2>&1), the go command's next lines follow
// ours. Where that is refused, it opens the file anew, for appending,
// unless the go command writes its standard output there too at an
// offset of its own, which would write over ours.
func goTestStderr() (io.Writer, func()) {
	ppid := os.Getppid()
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", ppid))
	if err != nil || strings.TrimSpace(string(comm)) != "go" {
		return os.Stdout, func() {}
	}
	if f, err := fileOf(ppid, 2); err == nil {
		return f, func() { f.Close() }
	}
	path := fmt.Sprintf("/proc/%d/fd/2", ppid)
	stderr, err := os.Stat(path)
	if err != nil {
		return os.Stdout, func() {}
	}
	if stdout, err := os.Stat(fmt.Sprintf("/proc/%d/fd/1", ppid)); err == nil &&
		stderr.Mode().IsRegular() && os.SameFile(stderr, stdout) && !appends(ppid, 2) {
		return os.Stdout, func() {}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return os.Stdout, func() {}
	}
	return f, func() { f.Close() }
}

// fileOf returns a duplicate of the file descriptor fd of process pid: the
// same open file, with the same offset.
func fileOf(pid, fd int) (*os.File, error) {
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(pidfd)
	dup, err := unix.PidfdGetfd(pidfd, fd, 0)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(dup), fmt.Sprintf("fd %d of process %d", fd, pid)), nil
}

// appends reports whether the file descriptor fd of process pid was
// opened with O_APPEND, as /proc/PID/fdinfo/FD says.
func appends(pid, fd int) bool {
	info, err := os.ReadFile(fmt.Sprintf("/proc/%d/fdinfo/%d", pid, fd))
	if err != nil {
		return false
	}
	for line := range strings.Lines(string(info)) {
		if flags, ok := strings.CutPrefix(line, "flags:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(flags), 8, 64)
			return err == nil && n&syscall.O_APPEND != 0
		}
	}
	return false
}
