package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestExportDirOnly: the store's SQL writes files into its export
// directory and nowhere else.
func TestExportDirOnly(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(context.Background(), Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ok := filepath.Join(s.ExportDir(), "x.parquet")
	if _, err := s.DB().Exec(`COPY (SELECT 1 AS a) TO '` + ok + `' (FORMAT parquet)`); err != nil {
		t.Fatalf("copy into the export dir: %v", err)
	}
	if _, err := os.Stat(ok); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "x.parquet")
	if _, err := s.DB().Exec(`COPY (SELECT 1 AS a) TO '` + bad + `' (FORMAT parquet)`); err == nil {
		t.Fatal("copy outside the export dir was allowed")
	}
}
