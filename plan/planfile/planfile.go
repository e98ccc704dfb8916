package planfile

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/etcdform/etcdform/plan"
)

// FormatVersion is the version of the file format this package writes and
// the only one it reads.
const FormatVersion = 14

// MaxSize bounds the size of a plan file Read accepts.
const MaxSize = 64 << 20

// Errors returned by Read. Both are wrapped with details.
var (
	// ErrCorrupted: the file does not parse, or its checksum does not
	// match its content.
	ErrCorrupted = errors.New("planfile: plan file is corrupted or was modified")
	// ErrVersion: the file was written in another format version.
	ErrVersion = errors.New("planfile: unsupported plan file format version")
)

// Write serializes p to w.
func Write(w io.Writer, p *plan.Plan) error {
	payload, err := toFile(p)
	if err != nil {
		return err
	}
	canon, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("planfile: %w", err)
	}
	env := envelope{FormatVersion: FormatVersion, Checksum: checksum(canon), Plan: canon}
	out, err := json.MarshalIndent(env, "", "  ")
	if err != nil {
		return fmt.Errorf("planfile: %w", err)
	}
	out = append(out, '\n')
	if _, err := w.Write(out); err != nil {
		return fmt.Errorf("planfile: writing: %w", err)
	}
	return nil
}

// Read parses a plan written by Write. It returns an error wrapping
// ErrVersion for another format version and ErrCorrupted for a file that
// does not parse or whose checksum does not match.
func Read(r io.Reader) (*plan.Plan, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("planfile: reading: %w", err)
	}
	if len(data) > MaxSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrCorrupted, MaxSize)
	}
	var head struct {
		FormatVersion *int `json:"format_version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupted, err)
	}
	if head.FormatVersion == nil {
		return nil, fmt.Errorf("%w: no format_version (is this an etcdform plan file?)", ErrCorrupted)
	}
	switch v := *head.FormatVersion; {
	case v < FormatVersion:
		return nil, fmt.Errorf("%w: made by an older etcdform (format %d), plan again (this etcdform reads format %d)", ErrVersion, v, FormatVersion)
	case v > FormatVersion:
		return nil, fmt.Errorf("%w: made by a newer etcdform (format %d); apply it with that etcdform, or plan again with this one (format %d)", ErrVersion, v, FormatVersion)
	}
	var env envelope
	if err := strictUnmarshal(data, &env); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupted, err)
	}
	var payload filePlan
	if err := strictUnmarshal(env.Plan, &payload); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupted, err)
	}
	canon, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupted, err)
	}
	if got := checksum(canon); got != env.Checksum {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrCorrupted)
	}
	p, err := fromFile(&payload)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupted, err)
	}
	return p, nil
}

// WriteFile writes p to path atomically (temp file and rename), mode 0644.
func WriteFile(path string, p *plan.Plan) error {
	var buf bytes.Buffer
	if err := Write(&buf, p); err != nil {
		return err
	}
	return writeFileAtomic(path, buf.Bytes())
}

// NotRegularError is returned when a plan file would replace something
// that is not a regular file.
type NotRegularError struct {
	Path string
	Kind string // "a named pipe", "a symbolic link", ...
}

func (e *NotRegularError) Error() string {
	return fmt.Sprintf("%s is %s; plan files are written only to regular files or new paths", e.Path, e.Kind)
}

// CheckWritable reports whether a plan file may be written at path: a new
// path, or an existing regular file. Anything else is refused: a device
// (writing through a rename would replace /dev/null itself), a named pipe,
// a socket, a directory, and a symbolic link, even one to a regular file
// (the rename would replace the link, not its target, and following it
// would write wherever the link points).
func CheckWritable(path string) error {
	st, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("planfile: %w", err)
	}
	var kind string
	switch m := st.Mode(); {
	case m.IsRegular():
		return nil
	case m&os.ModeSymlink != 0:
		kind = "a symbolic link"
	case m.IsDir():
		kind = "a directory"
	case m&os.ModeNamedPipe != 0:
		kind = "a named pipe"
	case m&os.ModeSocket != 0:
		kind = "a socket"
	case m&os.ModeDevice != 0:
		kind = "a device"
	default:
		kind = "a special file"
	}
	return &NotRegularError{Path: path, Kind: kind}
}

func writeFileAtomic(path string, data []byte) error {
	if err := CheckWritable(path); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("planfile: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("planfile: writing %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("planfile: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("planfile: writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("planfile: %w", err)
	}
	return nil
}

// ReadFile reads the plan at path; errors are those of Read, naming the file.
func ReadFile(path string) (*plan.Plan, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("planfile: %w", err)
	}
	defer f.Close()
	p, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

func checksum(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func strictUnmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data")
	}
	return nil
}
