// Package views renders command results for people (human text), machines
// (JSON) and merge requests (Markdown). Commands decide; views only print.
package views

import (
	"encoding/json"
	"fmt"
	"io"
)

// Version is what `etcdform version` shows.
type Version struct {
	Tool       string `json:"etcdform"`
	EtcdClient string `json:"etcd_client"`
}

// WriteJSON writes v as indented JSON and returns exit code 0, or 1 if it
// could not be written.
func WriteJSON(w io.Writer, v any) int {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		fmt.Fprintln(w, err)
		return 1
	}
	return 0
}
