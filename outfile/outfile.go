// Package outfile writes a command's output files so that a run that fails
// or is interrupted leaves no half-written file and clobbers nothing.
//
// Terms:
//   - A Set is every output file of one command run. Files are written to
//     temporary files beside their targets and renamed over them together by
//     Commit, at the end; Abort (or a Commit that fails) removes the
//     temporary files and leaves every target as it was.
//   - A target is what the path names once symbolic links are followed: a
//     link is never replaced, the file it points to is.
//   - A stream target is "-" (standard output), a character device (e.g.
//     /dev/null, /dev/stdout) or a FIFO: it cannot be replaced, so it is
//     written directly, as the run goes, and never renamed or removed.
//
// Only regular files and missing paths are replaced; anything else (a
// directory, a socket) is refused with an error naming the path.
package outfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// Set is the output files of one run. It is safe for concurrent use by
// files written from different goroutines (each File itself is not).
type Set struct {
	mu     sync.Mutex
	files  []*File
	done   bool
	stdout io.Writer
}

// New returns an empty set; "-" names stdout.
func New(stdout io.Writer) *Set { return &Set{stdout: stdout} }

// File is one output of a Set.
type File struct {
	path   string   // as given
	target string   // the file that Commit replaces ("" for a stream)
	tmp    *os.File // the temporary file beside target
	stream io.Writer
	closer io.Closer // a stream opened here (device, FIFO)
}

// Create adds an output at path and returns it for writing.
func (s *Set) Create(path string) (*File, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return nil, errors.New("outfile: set already committed or aborted")
	}
	f, err := s.create(path)
	if err != nil {
		return nil, err
	}
	s.files = append(s.files, f)
	return f, nil
}

func (s *Set) create(path string) (*File, error) {
	if path == "-" {
		return &File{path: path, stream: s.stdout}, nil
	}
	target, err := resolve(path)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(target)
	mode := fs.FileMode(0o644)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("%s: %w", path, err)
	case fi.Mode().IsRegular():
		mode = fi.Mode().Perm() // a replaced file keeps its permissions
	case fi.Mode()&(fs.ModeCharDevice|fs.ModeNamedPipe|fs.ModeDevice) != 0:
		w, err := os.OpenFile(target, os.O_WRONLY, 0)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return &File{path: path, stream: w, closer: w}, nil
	case fi.IsDir():
		return nil, fmt.Errorf("%s: is a directory; give a file name", path)
	default:
		return nil, fmt.Errorf("%s: is a %v, not a regular file, a device or a FIFO: refusing to replace it", path, fi.Mode().Type())
	}
	tmp, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".leasesim-*.tmp")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &File{path: path, target: target, tmp: tmp}, nil
}

// resolve follows symbolic links in path's last element (a chain of them,
// dangling or not) and returns the file they lead to.
func resolve(path string) (string, error) {
	for range 40 {
		fi, err := os.Lstat(path)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			return path, nil
		}
		link, err := os.Readlink(path)
		if err != nil {
			return "", fmt.Errorf("%s: %w", path, err)
		}
		if !filepath.IsAbs(link) {
			link = filepath.Join(filepath.Dir(path), link)
		}
		path = link
	}
	return "", fmt.Errorf("%s: too many levels of symbolic links", path)
}

// Write writes to the temporary file (or the stream).
func (f *File) Write(p []byte) (int, error) {
	if f.stream != nil {
		return f.stream.Write(p)
	}
	return f.tmp.Write(p)
}

// Path is the path the file was created with.
func (f *File) Path() string { return f.path }

// Commit closes every file and renames every temporary file over its target.
// If closing any fails, nothing is renamed and every temporary file is
// removed. It reports the first error.
func (s *Set) Commit() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return errors.New("outfile: set already committed or aborted")
	}
	s.done = true
	var first error
	for _, f := range s.files {
		if err := f.close(); err != nil && first == nil {
			first = fmt.Errorf("%s: %w", f.path, err)
		}
	}
	if first != nil {
		s.removeTemps()
		return first
	}
	for i, f := range s.files {
		if f.tmp == nil {
			continue
		}
		if err := os.Rename(f.tmp.Name(), f.target); err != nil {
			// Rename within one directory fails only if the directory
			// changed under us; the outputs already renamed stay.
			for _, g := range s.files[i:] {
				if g.tmp != nil {
					os.Remove(g.tmp.Name())
				}
			}
			return fmt.Errorf("%s: %w", f.path, err)
		}
	}
	return nil
}

// Abort closes every file and removes the temporary files; targets stay as
// they were (streams keep what was written to them). It may be called after
// Commit, and more than once: then it does nothing.
func (s *Set) Abort() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return
	}
	s.done = true
	for _, f := range s.files {
		f.close()
	}
	s.removeTemps()
}

func (s *Set) removeTemps() {
	for _, f := range s.files {
		if f.tmp != nil {
			os.Remove(f.tmp.Name())
		}
	}
}

func (f *File) close() error {
	if f.closer != nil {
		return f.closer.Close()
	}
	if f.tmp != nil {
		if err := f.tmp.Sync(); err != nil {
			f.tmp.Close()
			return err
		}
		return f.tmp.Close()
	}
	return nil
}
