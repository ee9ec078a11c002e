package docker

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// loadIgnore reads the repository's .dockerignore as Docker does.
func loadIgnore(t *testing.T) *patternmatcher.PatternMatcher {
	t.Helper()
	f, err := os.Open(repoFile(".dockerignore"))
	if err != nil {
		t.Fatalf("open .dockerignore: %v", err)
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		t.Fatalf("read .dockerignore: %v", err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		t.Fatalf(".dockerignore: %v", err)
	}
	return pm
}

func excluded(t *testing.T, pm *patternmatcher.PatternMatcher, p string) bool {
	t.Helper()
	ex, err := pm.MatchesOrParentMatches(p)
	if err != nil {
		t.Fatalf("match %s: %v", p, err)
	}
	return ex
}

// TestDockerignore checks that the build context keeps what the stages
// need and leaves out local output, dependencies and the prebuilt dashboard.
func TestDockerignore(t *testing.T) {
	pm := loadIgnore(t)
	for _, p := range []string{
		"go.mod", "go.sum",
		"cmd/actlog/main.go",
		"internal/web/assets/actlog.js", // the committed tracker, embedded
		"internal/web/ui/.gitkeep",
		"dashboard/package.json", "dashboard/package-lock.json", "dashboard/build.mjs", "dashboard/src/main.js",
	} {
		if excluded(t, pm, p) {
			t.Errorf(".dockerignore leaves out %s, which the image build needs", p)
		}
	}
	for _, p := range []string{
		".git/HEAD",
		"bin/actlog",
		"actlog-data/actlog.duckdb",
		"dashboard/node_modules/esbuild/package.json",
		"tracker/node_modules/x/package.json",
		"bench/out/run.json",
		"dashboard/browser/artifacts/shot.png",
		"internal/web/ui/index.html", // stage 1 builds it
		"internal/web/ui/assets/app.js",
		"cmd/actlog/actlog.test",
	} {
		if !excluded(t, pm, p) {
			t.Errorf(".dockerignore lets %s into the build context", p)
		}
	}
}

// TestCopySourcesInContext checks that each COPY from the build context
// names files that exist and that .dockerignore keeps.
func TestCopySourcesInContext(t *testing.T) {
	d, _ := loadDockerfile(t)
	pm := loadIgnore(t)
	for _, s := range d.stages {
		for _, c := range s.find("COPY") {
			if _, ok := c.flag("from"); ok {
				continue
			}
			for _, src := range c.args[:len(c.args)-1] {
				src = strings.TrimSuffix(strings.TrimPrefix(src, "./"), "/")
				info, err := os.Stat(repoFile(src))
				if err != nil {
					t.Errorf("line %d: COPY %s: %v", c.line, src, err)
					continue
				}
				if excluded(t, pm, src) {
					t.Errorf("line %d: COPY %s, but .dockerignore leaves it out", c.line, src)
					continue
				}
				if !info.IsDir() {
					continue
				}
				kept := 0
				_ = filepath.WalkDir(repoFile(src), func(p string, e fs.DirEntry, err error) error {
					if err != nil || e.IsDir() {
						return err
					}
					rel, _ := filepath.Rel(repoRoot, p)
					if !excluded(t, pm, filepath.ToSlash(rel)) {
						kept++
					}
					return nil
				})
				if kept == 0 {
					t.Errorf("line %d: COPY %s/ copies no file after .dockerignore", c.line, src)
				}
			}
		}
	}
}
