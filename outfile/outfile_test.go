package outfile_test

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/leasesim/leasesim/outfile"
)

func write(t *testing.T, s *outfile.Set, path, text string) {
	t.Helper()
	f, err := s.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(f, text); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// entries lists a directory, so a test sees any temporary file left behind.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// Regular files and missing paths are replaced together at Commit, with a
// replaced file's permissions kept; nothing is visible before.
func TestCommitReplacesTogether(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "old.csv")
	if err := os.WriteFile(old, []byte("before"), 0o600); err != nil {
		t.Fatal(err)
	}
	fresh := filepath.Join(dir, "new.json")
	s := outfile.New(nil)
	write(t, s, old, "after")
	write(t, s, fresh, "{}")
	if got := read(t, old); got != "before" {
		t.Fatalf("before Commit the target changed: %q", got)
	}
	if _, err := os.Stat(fresh); err == nil {
		t.Fatal("before Commit the new file exists")
	}
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	if read(t, old) != "after" || read(t, fresh) != "{}" {
		t.Fatal("Commit did not write both")
	}
	if fi, _ := os.Stat(old); fi.Mode().Perm() != 0o600 {
		t.Fatalf("replaced file's mode %v, want 0600 kept", fi.Mode().Perm())
	}
	if fi, _ := os.Stat(fresh); fi.Mode().Perm() != 0o644 {
		t.Fatalf("new file's mode %v, want 0644", fi.Mode().Perm())
	}
	if n := len(entries(t, dir)); n != 2 {
		t.Fatalf("%d entries left, want 2: %v", n, entries(t, dir))
	}
}

// Abort (an error or an interrupt) leaves every target as it was and no
// temporary file behind.
func TestAbortLeavesTargets(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "trace.json")
	os.WriteFile(old, []byte("keep"), 0o644)
	s := outfile.New(nil)
	write(t, s, old, "half")
	write(t, s, filepath.Join(dir, "missing.csv"), "half")
	s.Abort()
	s.Abort() // twice is harmless
	if read(t, old) != "keep" {
		t.Fatal("Abort changed the target")
	}
	if names := entries(t, dir); len(names) != 1 {
		t.Fatalf("left behind: %v", names)
	}
	if err := s.Commit(); err == nil {
		t.Fatal("Commit after Abort succeeded")
	}
}

// A symbolic link is followed: the file it names is replaced, the link stays;
// a dangling link creates its target.
func TestSymlinkFollowed(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real.txt")
	os.WriteFile(real, []byte("old"), 0o644)
	link := filepath.Join(dir, "link.txt")
	if err := os.Symlink("real.txt", link); err != nil {
		t.Fatal(err)
	}
	dangling := filepath.Join(dir, "dangling.txt")
	os.Symlink("sub-target.txt", dangling)
	s := outfile.New(nil)
	write(t, s, link, "new")
	write(t, s, dangling, "made")
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatal("the link was replaced")
	}
	if read(t, real) != "new" || read(t, filepath.Join(dir, "sub-target.txt")) != "made" {
		t.Fatal("the links' targets were not written")
	}
}

// A FIFO, a character device and "-" are streamed to, never replaced
// (the repro: mknod n c 1 3; --trace n turned the device into a
// regular file).
func TestStreamsWrittenDirectly(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip("mkfifo:", err)
	}
	got := make(chan string)
	go func() {
		b, _ := os.ReadFile(fifo)
		got <- string(b)
	}()
	var stdout bytes.Buffer
	s := outfile.New(&stdout)
	write(t, s, fifo, "through the pipe")
	write(t, s, "-", "to stdout")
	dev := filepath.Join(dir, "null")
	devOK := syscall.Mknod(dev, syscall.S_IFCHR|0o666, 1<<8|3) == nil // /dev/null's numbers; needs root
	if devOK {
		write(t, s, dev, "discarded")
	}
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	if g := <-got; g != "through the pipe" {
		t.Fatalf("fifo got %q", g)
	}
	if stdout.String() != "to stdout" {
		t.Fatalf("stdout got %q", stdout.String())
	}
	if fi, _ := os.Lstat(fifo); fi.Mode()&os.ModeNamedPipe == 0 {
		t.Fatal("the FIFO was replaced")
	}
	if devOK {
		if fi, _ := os.Lstat(dev); fi.Mode()&os.ModeCharDevice == 0 {
			t.Fatal("the device node was replaced by a regular file")
		}
	}
	for _, n := range entries(t, dir) {
		if strings.HasSuffix(n, ".tmp") {
			t.Fatalf("temporary file left: %s", n)
		}
	}
}

// A directory is refused with an error naming the path.
func TestDirectoryRefused(t *testing.T) {
	dir := t.TempDir()
	s := outfile.New(nil)
	if _, err := s.Create(dir); err == nil || !strings.Contains(err.Error(), dir) {
		t.Fatalf("got %v", err)
	}
}
