// Package docker lints the repository's Dockerfile and .dockerignore without
// a Docker engine: CI has none, so these tests parse the files the way
// BuildKit does and check the rules that matter for the actlog image.
//
//	cd deploy/docker && go test ./...
package docker

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

const (
	repoRoot       = "../.."
	dockerfilePath = repoRoot + "/Dockerfile"
	exposedPort    = "8080"
)

// instruction is one Dockerfile instruction, as BuildKit's parser reads it.
type instruction struct {
	line  int
	cmd   string   // upper case: FROM, RUN, COPY …
	flags []string // --from=build, --platform=…, --mount=…
	args  []string
	json  bool // exec form (["a", "b"])
	text  string
}

// flag returns the value of --name=value, and whether the flag is there.
func (in instruction) flag(name string) (string, bool) {
	for _, f := range in.flags {
		if v, ok := strings.CutPrefix(f, "--"+name+"="); ok {
			return v, true
		}
		if f == "--"+name {
			return "", true
		}
	}
	return "", false
}

// env returns the variables that an ENV instruction sets.
func (in instruction) env() map[string]string {
	out := map[string]string{}
	// The parser gives key, value, "=" for each variable (both forms).
	for i := 0; i+1 < len(in.args); i += 3 {
		out[in.args[i]] = unquote(in.args[i+1])
	}
	return out
}

type stage struct {
	line   int
	image  string // the FROM image (or an earlier stage's name)
	name   string // AS name; "" when unnamed
	instrs []instruction
}

// find returns the stage's instructions of one kind.
func (s stage) find(cmd string) []instruction {
	var out []instruction
	for _, in := range s.instrs {
		if in.cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

type dockerfile struct {
	stages []stage
}

func (d dockerfile) final() stage { return d.stages[len(d.stages)-1] }

// stageNamed returns the stage that --from=ref names: by AS name or index.
func (d dockerfile) stageNamed(ref string) (stage, bool) {
	for i, s := range d.stages {
		if strings.EqualFold(s.name, ref) || strconv.Itoa(i) == ref {
			return s, true
		}
	}
	return stage{}, false
}

// clone makes a deep copy, for the mutation tests.
func (d dockerfile) clone() dockerfile {
	out := dockerfile{stages: make([]stage, len(d.stages))}
	for i, s := range d.stages {
		s.instrs = slices.Clone(s.instrs)
		for j := range s.instrs {
			s.instrs[j].flags = slices.Clone(s.instrs[j].flags)
			s.instrs[j].args = slices.Clone(s.instrs[j].args)
		}
		out.stages[i] = s
	}
	return out
}

func parseDockerfile(t *testing.T, src string) dockerfile {
	t.Helper()
	res, err := parser.Parse(strings.NewReader(src))
	if err != nil {
		t.Fatalf("parse Dockerfile: %v", err)
	}
	for _, w := range res.Warnings {
		t.Errorf("Dockerfile line %d: %s", w.Location.Start.Line, w.Short)
	}
	var d dockerfile
	for _, n := range res.AST.Children {
		in := instruction{
			line:  n.StartLine,
			cmd:   strings.ToUpper(n.Value),
			flags: n.Flags,
			json:  n.Attributes["json"],
			text:  n.Original,
		}
		for a := n.Next; a != nil; a = a.Next {
			in.args = append(in.args, a.Value)
		}
		if in.cmd == "FROM" {
			s := stage{line: in.line}
			if len(in.args) > 0 {
				s.image = in.args[0]
			}
			if len(in.args) == 3 && strings.EqualFold(in.args[1], "AS") {
				s.name = in.args[2]
			}
			d.stages = append(d.stages, s)
		}
		if len(d.stages) == 0 {
			continue // global ARGs and parser directives before the first FROM
		}
		d.stages[len(d.stages)-1].instrs = append(d.stages[len(d.stages)-1].instrs, in)
	}
	if len(d.stages) == 0 {
		t.Fatal("Dockerfile has no FROM")
	}
	return d
}

func loadDockerfile(t *testing.T) (dockerfile, string) {
	t.Helper()
	b, err := os.ReadFile(dockerfilePath)
	if err != nil {
		t.Fatalf("read the repository's Dockerfile: %v", err)
	}
	return parseDockerfile(t, string(b)), string(b)
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}

// rule is one check over the parsed Dockerfile; nil means it holds.
type rule struct {
	name  string
	check func(dockerfile) error
}

var numericUser = regexp.MustCompile(`^([0-9]+)(:[0-9]+)?$`)

var rules = []rule{
	{"at-least-three-stages", func(d dockerfile) error {
		// dashboard (npm), build (Go with cgo), runtime
		if len(d.stages) < 3 {
			return fmt.Errorf("%d stages, want at least 3 (dashboard, build, runtime)", len(d.stages))
		}
		return nil
	}},
	{"every-from-pinned", func(d dockerfile) error {
		var errs []error
		for i, s := range d.stages {
			if _, ok := d.stageNamed(s.image); ok && d.stageIndex(s.image) < i {
				continue // FROM an earlier stage
			}
			if s.image == "scratch" {
				continue
			}
			if strings.Contains(s.image, "$") {
				errs = append(errs, fmt.Errorf("line %d: FROM %s: write the image literally so that its pin can be checked", s.line, s.image))
				continue
			}
			if err := checkPinned(s.image); err != nil {
				errs = append(errs, fmt.Errorf("line %d: FROM %s: %w", s.line, s.image, err))
			}
		}
		return errors.Join(errs...)
	}},
	{"final-user-numeric-non-root", func(d dockerfile) error {
		users := d.final().find("USER")
		if len(users) == 0 {
			return errors.New("the final stage sets no USER (the base image's user is not checked here)")
		}
		u := users[len(users)-1]
		if len(u.args) != 1 {
			return fmt.Errorf("line %d: USER %q", u.line, u.args)
		}
		m := numericUser.FindStringSubmatch(u.args[0])
		if m == nil {
			return fmt.Errorf("line %d: USER %s: want a numeric uid[:gid] (Kubernetes runAsNonRoot cannot verify a name)", u.line, u.args[0])
		}
		if m[1] == "0" || m[2] == ":0" {
			return fmt.Errorf("line %d: USER %s runs as root", u.line, u.args[0])
		}
		return nil
	}},
	{"no-add-url", func(d dockerfile) error {
		var errs []error
		for _, s := range d.stages {
			for _, in := range s.find("ADD") {
				for _, src := range in.args[:max(len(in.args)-1, 0)] {
					if isRemote(src) {
						errs = append(errs, fmt.Errorf("line %d: ADD %s: download in a build stage with a checked tool, or COPY", in.line, src))
					}
				}
			}
		}
		return errors.Join(errs...)
	}},
	{"entrypoint-exec-form", func(d dockerfile) error {
		var errs []error
		eps := d.final().find("ENTRYPOINT")
		if len(eps) == 0 {
			errs = append(errs, errors.New("the final stage has no ENTRYPOINT"))
		}
		// Exec form everywhere: the runtime has no shell, and signals must
		// reach actlog itself (it drains and commits on SIGTERM).
		for _, cmd := range []string{"ENTRYPOINT", "CMD"} {
			for _, in := range d.final().find(cmd) {
				if !in.json {
					errs = append(errs, fmt.Errorf("line %d: %s in shell form: write it as a JSON array", in.line, cmd))
				}
			}
		}
		return errors.Join(errs...)
	}},
	{"final-copies-only-the-binary", func(d dockerfile) error {
		f := d.final()
		var errs []error
		copies := f.find("COPY")
		if n := len(f.find("ADD")); n > 0 {
			errs = append(errs, fmt.Errorf("the final stage has %d ADD", n))
		}
		if len(copies) != 1 {
			errs = append(errs, fmt.Errorf("the final stage has %d COPY, want exactly one: the binary", len(copies)))
		}
		for _, c := range copies {
			from, ok := c.flag("from")
			if !ok {
				errs = append(errs, fmt.Errorf("line %d: COPY from the build context into the runtime image", c.line))
				continue
			}
			if _, ok := d.stageNamed(from); !ok {
				errs = append(errs, fmt.Errorf("line %d: COPY --from=%s is not a stage of this Dockerfile", c.line, from))
			}
			if len(c.args) != 2 {
				errs = append(errs, fmt.Errorf("line %d: COPY %q: want one source file and its destination", c.line, c.args))
				continue
			}
			if src := c.args[0]; strings.HasSuffix(src, "/") || strings.ContainsAny(src, "*?[") || src == "/" || src == "." {
				errs = append(errs, fmt.Errorf("line %d: COPY source %s is not one file", c.line, src))
			}
		}
		return errors.Join(errs...)
	}},
	{"final-stage-runs-nothing", func(d dockerfile) error {
		// distroless has no shell; anything built belongs in a build stage.
		allowed := []string{"FROM", "ARG", "LABEL", "COPY", "USER", "WORKDIR", "ENV", "EXPOSE", "VOLUME", "ENTRYPOINT", "CMD", "HEALTHCHECK", "STOPSIGNAL"}
		var errs []error
		for _, in := range d.final().instrs {
			if !slices.Contains(allowed, in.cmd) {
				errs = append(errs, fmt.Errorf("line %d: %s in the runtime stage", in.line, in.cmd))
			}
		}
		return errors.Join(errs...)
	}},
	{"build-stage-cgo-enabled", func(d dockerfile) error {
		b, err := d.binaryStage()
		if err != nil {
			return err
		}
		// DuckDB is linked through cgo: CGO_ENABLED=1 must be set, by ENV
		// or on the go build command line, and never turned off.
		set := false
		for _, in := range b.instrs {
			switch in.cmd {
			case "ENV":
				if v, ok := in.env()["CGO_ENABLED"]; ok {
					set = v == "1"
				}
			case "ARG":
				for _, a := range in.args {
					if strings.HasPrefix(a, "CGO_ENABLED=") {
						set = strings.TrimPrefix(a, "CGO_ENABLED=") == "1"
					}
				}
			case "RUN":
				run := strings.Join(in.args, " ")
				if strings.Contains(run, "CGO_ENABLED=0") {
					return fmt.Errorf("line %d: RUN turns cgo off", in.line)
				}
				if strings.Contains(run, "go build") && strings.Contains(run, "CGO_ENABLED=1") {
					set = true
				}
			}
		}
		if !set {
			return fmt.Errorf("stage %q (line %d) does not set CGO_ENABLED=1: the DuckDB bindings need cgo", b.name, b.line)
		}
		return nil
	}},
	{"go-build-flags", func(d dockerfile) error {
		b, err := d.binaryStage()
		if err != nil {
			return err
		}
		for _, in := range b.find("RUN") {
			run := strings.Join(in.args, " ")
			if !strings.Contains(run, "go build") {
				continue
			}
			var errs []error
			for _, want := range []string{"-trimpath", "-X main.version=", "./cmd/actlog"} {
				if !strings.Contains(run, want) {
					errs = append(errs, fmt.Errorf("line %d: go build without %s", in.line, want))
				}
			}
			return errors.Join(errs...)
		}
		return fmt.Errorf("stage %q (line %d) runs no go build", b.name, b.line)
	}},
	{"expose-8080", func(d dockerfile) error {
		for _, in := range d.final().find("EXPOSE") {
			for _, p := range in.args {
				if p == exposedPort || p == exposedPort+"/tcp" {
					return nil
				}
			}
		}
		return fmt.Errorf("the final stage does not EXPOSE %s", exposedPort)
	}},
	{"data-dir-owned-by-user", func(d dockerfile) error {
		// BuildKit creates WORKDIR owned by the USER in force, so /data is
		// writable by the non-root user only when WORKDIR comes after USER.
		user, workdir, volume := -1, -1, false
		for i, in := range d.final().instrs {
			switch {
			case in.cmd == "USER":
				user = i
			case in.cmd == "WORKDIR" && len(in.args) == 1 && path(in.args[0]) == "/data":
				workdir = i
			case in.cmd == "VOLUME" && slices.ContainsFunc(in.args, func(a string) bool { return path(unquote(a)) == "/data" }):
				volume = true
			}
		}
		switch {
		case workdir < 0:
			return errors.New("the final stage has no WORKDIR /data")
		case user < 0 || workdir < user:
			return errors.New("WORKDIR /data comes before USER: BuildKit would create it owned by root")
		case !volume:
			return errors.New("the final stage has no VOLUME /data")
		}
		return nil
	}},
	{"healthcheck-exec-form-if-any", func(d dockerfile) error {
		// None is fine (Kubernetes probes /healthz and /readyz); one in
		// shell form cannot run in an image without a shell.
		for _, in := range d.final().find("HEALTHCHECK") {
			if len(in.args) > 0 && strings.EqualFold(in.args[0], "NONE") {
				continue
			}
			if !in.json {
				return fmt.Errorf("line %d: HEALTHCHECK in shell form, and the runtime has no shell", in.line)
			}
		}
		return nil
	}},
}

func path(p string) string { return strings.TrimSuffix(p, "/") }

func (d dockerfile) stageIndex(ref string) int {
	for i, s := range d.stages {
		if strings.EqualFold(s.name, ref) {
			return i
		}
	}
	return -1
}

// binaryStage is the stage the final stage copies the binary from.
func (d dockerfile) binaryStage() (stage, error) {
	for _, c := range d.final().find("COPY") {
		if from, ok := c.flag("from"); ok {
			if s, ok := d.stageNamed(from); ok {
				return s, nil
			}
		}
	}
	return stage{}, errors.New("the final stage copies from no build stage")
}

// checkPinned accepts name:tag (not latest) and name@sha256:digest.
func checkPinned(image string) error {
	if _, digest, ok := strings.Cut(image, "@"); ok {
		if !strings.HasPrefix(digest, "sha256:") || len(digest) != len("sha256:")+64 {
			return fmt.Errorf("digest %q is not sha256:<64 hex>", digest)
		}
		return nil
	}
	// The tag follows the last ':' after the last '/' (a registry may
	// have a port: registry:5000/name).
	name := image[strings.LastIndex(image, "/")+1:]
	_, tag, ok := strings.Cut(name, ":")
	switch {
	case !ok || tag == "":
		return errors.New("no tag: pin a version")
	case tag == "latest":
		return errors.New("tag latest: pin a version")
	}
	return nil
}

func isRemote(src string) bool {
	s := strings.ToLower(src)
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") ||
		strings.HasPrefix(s, "git@") || strings.HasPrefix(s, "git://")
}

func TestDockerfile(t *testing.T) {
	d, _ := loadDockerfile(t)
	for _, r := range rules {
		t.Run(r.name, func(t *testing.T) {
			if err := r.check(d); err != nil {
				t.Errorf("%s:\n%v", dockerfilePath, err)
			}
		})
	}
}

// TestRulesCatchBreakage breaks the real Dockerfile in one way per case and
// checks that the rule meant for it fails, so no rule passes vacuously.
func TestRulesCatchBreakage(t *testing.T) {
	base, _ := loadDockerfile(t)
	final := func(d *dockerfile) *stage { return &d.stages[len(d.stages)-1] }
	// set replaces the first instruction of kind cmd in s (adds it if none).
	set := func(s *stage, in instruction) {
		for i := range s.instrs {
			if s.instrs[i].cmd == in.cmd {
				s.instrs[i] = in
				return
			}
		}
		s.instrs = append(s.instrs, in)
	}
	drop := func(s *stage, cmd string) {
		s.instrs = slices.DeleteFunc(s.instrs, func(in instruction) bool { return in.cmd == cmd })
	}
	buildStage := func(d *dockerfile) *stage {
		b, err := d.binaryStage()
		if err != nil {
			t.Fatal(err)
		}
		return &d.stages[d.stageIndex(b.name)]
	}
	cases := []struct {
		rule   string
		name   string
		mutate func(d *dockerfile)
	}{
		{"at-least-three-stages", "dashboard stage removed", func(d *dockerfile) { d.stages = d.stages[1:] }},
		{"every-from-pinned", "latest", func(d *dockerfile) { final(d).image = "gcr.io/distroless/cc-debian12:latest" }},
		{"every-from-pinned", "no tag", func(d *dockerfile) { d.stages[0].image = "node" }},
		{"every-from-pinned", "registry port, no tag", func(d *dockerfile) { d.stages[0].image = "registry:5000/node" }},
		{"every-from-pinned", "short digest", func(d *dockerfile) { d.stages[1].image = "golang@sha256:abc" }},
		{"final-user-numeric-non-root", "no USER", func(d *dockerfile) { drop(final(d), "USER") }},
		{"final-user-numeric-non-root", "root", func(d *dockerfile) { set(final(d), instruction{cmd: "USER", args: []string{"0"}}) }},
		{"final-user-numeric-non-root", "root group", func(d *dockerfile) { set(final(d), instruction{cmd: "USER", args: []string{"65532:0"}}) }},
		{"final-user-numeric-non-root", "name", func(d *dockerfile) { set(final(d), instruction{cmd: "USER", args: []string{"nonroot"}}) }},
		{"no-add-url", "ADD https", func(d *dockerfile) {
			d.stages[1].instrs = append(d.stages[1].instrs, instruction{cmd: "ADD", args: []string{"https://example.com/tool.tgz", "/tmp/"}})
		}},
		{"entrypoint-exec-form", "shell form", func(d *dockerfile) {
			set(final(d), instruction{cmd: "ENTRYPOINT", args: []string{"/actlog"}})
		}},
		{"entrypoint-exec-form", "CMD shell form", func(d *dockerfile) {
			set(final(d), instruction{cmd: "CMD", args: []string{"serve"}})
		}},
		{"entrypoint-exec-form", "no ENTRYPOINT", func(d *dockerfile) { drop(final(d), "ENTRYPOINT") }},
		{"final-copies-only-the-binary", "a second COPY", func(d *dockerfile) {
			final(d).instrs = append(final(d).instrs, instruction{cmd: "COPY", flags: []string{"--from=build"}, args: []string{"/src/docs/", "/docs/"}})
		}},
		{"final-copies-only-the-binary", "a directory", func(d *dockerfile) {
			set(final(d), instruction{cmd: "COPY", flags: []string{"--from=build"}, args: []string{"/out/", "/"}})
		}},
		{"final-copies-only-the-binary", "from the context", func(d *dockerfile) {
			set(final(d), instruction{cmd: "COPY", args: []string{"bin/actlog", "/actlog"}})
		}},
		{"final-stage-runs-nothing", "RUN", func(d *dockerfile) {
			final(d).instrs = append(final(d).instrs, instruction{cmd: "RUN", args: []string{"mkdir /x"}})
		}},
		{"build-stage-cgo-enabled", "no CGO_ENABLED", func(d *dockerfile) {
			b := buildStage(d)
			b.instrs = slices.DeleteFunc(b.instrs, func(in instruction) bool {
				_, ok := in.env()["CGO_ENABLED"]
				return in.cmd == "ENV" && ok
			})
		}},
		{"build-stage-cgo-enabled", "CGO_ENABLED=0", func(d *dockerfile) {
			b := buildStage(d)
			b.instrs = append(b.instrs, instruction{cmd: "ENV", args: []string{"CGO_ENABLED", "0", "="}})
		}},
		{"go-build-flags", "no -trimpath", func(d *dockerfile) {
			b := buildStage(d)
			for i, in := range b.instrs {
				if in.cmd == "RUN" {
					b.instrs[i].args = []string{strings.ReplaceAll(strings.Join(in.args, " "), "-trimpath", "")}
				}
			}
		}},
		{"expose-8080", "other port", func(d *dockerfile) { set(final(d), instruction{cmd: "EXPOSE", args: []string{"9090"}}) }},
		{"data-dir-owned-by-user", "WORKDIR before USER", func(d *dockerfile) {
			f := final(d)
			var user instruction
			f.instrs = slices.DeleteFunc(f.instrs, func(in instruction) bool {
				if in.cmd == "USER" {
					user = in
					return true
				}
				return false
			})
			f.instrs = append(f.instrs, user)
		}},
		{"healthcheck-exec-form-if-any", "shell form", func(d *dockerfile) {
			final(d).instrs = append(final(d).instrs, instruction{cmd: "HEALTHCHECK", args: []string{"CMD", "curl -f localhost:8080/healthz"}})
		}},
	}
	byName := map[string]rule{}
	for _, r := range rules {
		byName[r.name] = r
	}
	covered := map[string]bool{}
	for _, c := range cases {
		t.Run(c.rule+"/"+c.name, func(t *testing.T) {
			r, ok := byName[c.rule]
			if !ok {
				t.Fatalf("no rule %q", c.rule)
			}
			broken := base.clone()
			c.mutate(&broken)
			if err := r.check(broken); err == nil {
				t.Errorf("rule %s passed a Dockerfile broken by %q", c.rule, c.name)
			} else {
				t.Logf("caught: %v", err)
			}
			if err := r.check(base.clone()); err != nil {
				t.Errorf("the mutation changed the original too: %v", err)
			}
		})
		covered[c.rule] = true
	}
	for _, r := range rules {
		if !covered[r.name] {
			t.Errorf("rule %s has no breaking case", r.name)
		}
	}
}

// TestParseForms checks the text → instruction step on small Dockerfiles:
// the forms of ENV, ENTRYPOINT, FROM and USER that the rules rely on.
func TestParseForms(t *testing.T) {
	const head = "FROM node:24-bookworm-slim AS ui\nFROM golang:1.26-bookworm AS build\n"
	cases := []struct {
		name, src, rule string
		ok              bool
	}{
		{"env legacy form", head + "ENV CGO_ENABLED 1\nRUN go build -trimpath -X main.version=x ./cmd/actlog\nFROM gcr.io/distroless/cc-debian12:nonroot\nCOPY --from=build /out/actlog /actlog\n", "build-stage-cgo-enabled", true},
		{"env quoted", head + "ENV CGO_ENABLED=\"1\"\nFROM x:1\nCOPY --from=build /a /a\n", "build-stage-cgo-enabled", true},
		{"cgo inline", head + "RUN CGO_ENABLED=1 go build ./cmd/actlog\nFROM x:1\nCOPY --from=build /a /a\n", "build-stage-cgo-enabled", true},
		{"cgo inline off", head + "ENV CGO_ENABLED=1\nRUN CGO_ENABLED=0 go build ./cmd/actlog\nFROM x:1\nCOPY --from=build /a /a\n", "build-stage-cgo-enabled", false},
		{"entrypoint shell", head + "FROM x:1\nENTRYPOINT /actlog serve\n", "entrypoint-exec-form", false},
		{"entrypoint exec", head + "FROM x:1\nENTRYPOINT [\"/actlog\"]\n", "entrypoint-exec-form", true},
		{"from digest", "FROM golang@sha256:" + strings.Repeat("a", 64) + "\n", "every-from-pinned", true},
		{"from registry port and tag", "FROM registry:5000/go:1.26\n", "every-from-pinned", true},
		{"from earlier stage", head + "FROM build AS test\n", "every-from-pinned", true},
		{"from arg", "ARG GO=1.26\nFROM golang:${GO}\n", "every-from-pinned", false},
		{"add url with checksum", "FROM x:1\nADD --checksum=sha256:00 https://example.com/a /a\n", "no-add-url", false},
		{"add local file", "FROM x:1\nADD a.tar /a\n", "no-add-url", true},
		{"user name:group", "FROM x:1\nUSER 65532:65532\n", "final-user-numeric-non-root", true},
		{"expose tcp", "FROM x:1\nEXPOSE 8080/tcp\n", "expose-8080", true},
		{"healthcheck exec", "FROM x:1\nHEALTHCHECK CMD [\"/actlog\", \"version\"]\n", "healthcheck-exec-form-if-any", true},
		{"healthcheck none", "FROM x:1\nHEALTHCHECK NONE\n", "healthcheck-exec-form-if-any", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := parseDockerfile(t, c.src)
			for _, r := range rules {
				if r.name != c.rule {
					continue
				}
				err := r.check(d)
				if (err == nil) != c.ok {
					t.Errorf("rule %s: got %v, want ok=%v", c.rule, err, c.ok)
				}
				return
			}
			t.Fatalf("no rule %q", c.rule)
		})
	}
}

// repoFile is a path relative to the repository root.
func repoFile(p string) string { return filepath.Join(repoRoot, filepath.FromSlash(p)) }
