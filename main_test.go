package main

import (
	"os"
	"testing"

	"itemsapi/internal/testserver"
)

// TestMain says which groups of tests skipped, and why.
func TestMain(m *testing.M) { os.Exit(testserver.Main(m)) }
