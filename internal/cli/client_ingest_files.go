package cli

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/protostar/protostar"
)

// ingestFile is a local file to upload and the key it is stored under.
type ingestFile struct {
	Path string
	Key  string
}

// collectFiles expands the PATH arguments of ingest. A file is uploaded
// under its base name, whatever its extension. A folder is walked
// recursively for *.md and *.markdown files (any letter case), skipping
// hidden files and folders; each is uploaded under its path relative to the
// folder, with forward slashes. Two files that would share a key, keys the
// API would reject and missing paths are errors, reported before anything
// is uploaded.
func collectFiles(paths []string) ([]ingestFile, error) {
	var files []ingestFile
	from := map[string]string{} // key → path
	add := func(path, key string) error {
		if err := protostar.ValidateKey(key); err != nil {
			return fmt.Errorf("%s: cannot be stored as %q: %s", path, key, protostar.ErrorMessage(err))
		}
		if prev, dup := from[key]; dup {
			if prev == path {
				return nil // named twice
			}
			return fmt.Errorf("%s and %s would both be stored as %q; ingest them separately", prev, path, key)
		}
		from[key] = path
		files = append(files, ingestFile{Path: path, Key: key})
		return nil
	}
	for _, root := range paths {
		fi, err := os.Stat(root)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			if err := add(root, filepath.Base(root)); err != nil {
				return nil, err
			}
			continue
		}
		err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if path != root && strings.HasPrefix(d.Name(), ".") {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if d.IsDir() || !isMarkdownName(d.Name()) {
				return nil
			}
			if !d.Type().IsRegular() { // a symlink: follow it to a file only
				if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() {
					return nil
				}
			}
			key, err := relativeKey(root, path)
			if err != nil {
				return err
			}
			return add(path, key)
		})
		if err != nil {
			return nil, err
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no Markdown files (*.md, *.markdown) in %s", strings.Join(paths, ", "))
	}
	return files, nil
}

// isMarkdownName reports whether a file name has a Markdown extension.
func isMarkdownName(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	return ext == ".md" || ext == ".markdown"
}

// relativeKey is the key of path found under root: its relative path with
// forward slashes.
func relativeKey(root, path string) (string, error) {
	rel, err := filepath.Rel(root, path)
	if err != nil {
		return "", fmt.Errorf("key of %s: %w", path, err)
	}
	return filepath.ToSlash(rel), nil
}
