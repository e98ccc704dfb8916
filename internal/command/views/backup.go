package views

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/etcdform/etcdform/internal/backup"
	"github.com/etcdform/etcdform/providers/backupstore"
)

// BackupRun prints what a backup run stored and removed.
func BackupRun(w io.Writer, dest string, r *backup.Result) {
	m := r.Meta
	enc := "unencrypted"
	if m.Encrypted {
		enc = "encrypted with age"
	}
	fmt.Fprintf(w, "Backup %s: revision %d, %d keys, %s snapshot, %s %s, stored at %s/%s in %s.\n",
		m.ID, m.Revision, m.KeyCount, bytesIEC(m.Size), bytesIEC(m.StoredSize), enc, dest, m.Object, r.Duration.Round(time.Millisecond))
	for _, id := range r.Deleted {
		fmt.Fprintf(w, "Retention removed %s.\n", id)
	}
}

// BackupList prints the snapshots at a destination, oldest first.
func BackupList(w io.Writer, dest string, ms []backupstore.Meta) {
	if len(ms) == 0 {
		fmt.Fprintf(w, "No snapshots at %s.\n", dest)
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTIME (UTC)\tREVISION\tKEYS\tSIZE\tSTORED\tENCRYPTED")
	for _, m := range ms {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%v\n", m.ID, m.Time.UTC().Format(time.DateTime), m.Revision, m.KeyCount,
			bytesIEC(m.Size), bytesIEC(m.StoredSize), m.Encrypted)
	}
	tw.Flush()
	fmt.Fprintf(w, "%d snapshots at %s.\n", len(ms), dest)
}

// DrillJSON is the JSON form of a restore drill's report.
type DrillJSON struct {
	ID             string   `json:"id"`
	Verified       bool     `json:"verified"`
	Revision       int64    `json:"revision"`
	RecordedRev    int64    `json:"recorded_revision"`
	KeyCount       int64    `json:"key_count"`
	RecordedKeys   int64    `json:"recorded_key_count"`
	KVHash         uint32   `json:"kv_hash"`
	RecordedKVHash uint32   `json:"recorded_kv_hash"`
	FetchSeconds   float64  `json:"fetch_seconds"`
	RestoreSeconds float64  `json:"restore_seconds"`
	StartSeconds   float64  `json:"start_seconds"`
	TotalSeconds   float64  `json:"total_seconds"`
	Problems       []string `json:"problems"`
}

// NewDrillJSON converts a report.
func NewDrillJSON(r *backup.DrillReport) DrillJSON {
	p := r.Problems
	if p == nil {
		p = []string{}
	}
	return DrillJSON{ID: r.Meta.ID, Verified: len(r.Problems) == 0, Revision: r.Revision, RecordedRev: r.Meta.Revision,
		KeyCount: r.KeyCount, RecordedKeys: r.Meta.KeyCount, KVHash: r.KVHash, RecordedKVHash: r.Meta.KVHash,
		FetchSeconds: r.FetchTime.Seconds(), RestoreSeconds: r.RestoreTime.Seconds(), StartSeconds: r.StartTime.Seconds(),
		TotalSeconds: r.Total.Seconds(), Problems: p}
}

// BackupDrill prints a restore drill's report.
func BackupDrill(w io.Writer, r *backup.DrillReport) {
	m := r.Meta
	fmt.Fprintf(w, "Snapshot %s (taken %s from %s)\n", m.ID, m.Time.UTC().Format(time.DateTime), m.Member)
	fmt.Fprintf(w, "  revision  %d (recorded %d)\n", r.Revision, m.Revision)
	fmt.Fprintf(w, "  keys      %d (recorded %d)\n", r.KeyCount, m.KeyCount)
	if m.KVHash != 0 {
		fmt.Fprintf(w, "  HashKV    %d (recorded %d)\n", r.KVHash, m.KVHash)
	}
	fmt.Fprintf(w, "  time      fetch+decrypt %s, restore %s, start %s, total %s\n", r.FetchTime.Round(time.Millisecond),
		r.RestoreTime.Round(time.Millisecond), r.StartTime.Round(time.Millisecond), r.Total.Round(time.Millisecond))
	if len(r.Problems) == 0 {
		fmt.Fprintln(w, "Verified: the snapshot restores and matches its record.")
		return
	}
	for _, p := range r.Problems {
		fmt.Fprintf(w, "  MISMATCH  %s\n", p)
	}
}

func bytesIEC(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for v := n / unit; v >= unit; v /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
