package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestToolsStoreInUse: while actlog serve holds the store, every offline
// tool that opens it says so, and how to do the same while it runs.
func TestToolsStoreInUse(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a subprocess")
	}
	dir := t.TempDir()
	port := freePort(t)
	cfg := writeConfig(t, dir, port, "")
	srv := startServer(t, cfg, port)
	defer srv.stop()
	file := writeTestFile(t, filepath.Join(dir, "a.ndjson"), `{"type":"track","event":"e","anonymousId":"a"}`+"\n")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"export", "--config", cfg, "--dir", filepath.Join(dir, "lake")}, "let it export on a schedule"},
		{[]string{"import", "--config", cfg, "--source", "web", file}, "stop it, or import through Kafka"},
		{[]string{"erase", "--config", cfg, "--user", "u1"}, "use the API: curl -X DELETE"},
		{[]string{"plan", "infer", "--config", cfg}, "draft the plan from a copy of the data directory"},
	} {
		var out, errOut bytes.Buffer
		code := run(context.Background(), c.args, nil, &out, &errOut)
		if code != 1 || !strings.Contains(errOut.String(), "is in use by a running actlog") || !strings.Contains(errOut.String(), c.want) {
			t.Errorf("actlog %s: exit %d\n%s%s", c.args[0], code, out.String(), errOut.String())
		}
	}
}
