//go:build !linux

package testserver

import (
	"io"
	"os"
)

// goTestStderr returns standard output, which go test shows only with -v:
// the go command's standard error is reached through Linux's /proc and
// pidfd_getfd (stderr_linux.go).
func goTestStderr() (io.Writer, func()) { return os.Stdout, func() {} }
