package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/actlog/actlog/internal/plan"
)

const planUsage = `Usage:
  actlog plan check FILE       validate a tracking plan (exit 1 with every problem and its line)
  actlog plan infer [flags]    draft a tracking plan from the events already stored

Run 'actlog plan infer -h' for its flags. Reference: docs/tracking-plan.md
`

func planCmd(ctx context.Context, args, env []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, planUsage)
		return errors.New("a subcommand is required")
	}
	switch args[0] {
	case "check":
		return planCheckCmd(args[1:], stdout, stderr)
	case "infer":
		return planInferCmd(ctx, args[1:], env, stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, planUsage)
		return flag.ErrHelp
	}
	fmt.Fprint(stderr, planUsage)
	return fmt.Errorf("unknown subcommand %q", args[0])
}

func planCheckCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) != 1 {
		fmt.Fprint(stderr, planUsage)
		return errors.New("plan check takes one file")
	}
	data, err := os.ReadFile(args[0])
	if err != nil {
		return err
	}
	p, err := plan.Parse(data)
	if err != nil {
		var errs plan.Errors
		if errors.As(err, &errs) {
			for _, e := range errs {
				fmt.Fprintf(stderr, "%s:%s\n", args[0], strings.TrimPrefix(" "+e.Error(), " line "))
			}
			return fmt.Errorf("%s: %d problem(s)", args[0], len(errs))
		}
		return err
	}
	fmt.Fprintf(stdout, "%s: ok, %d events planned\n", args[0], len(p.Events()))
	modes := map[plan.Mode][]string{}
	for _, src := range p.Sources() {
		modes[p.Mode(src)] = append(modes[p.Mode(src)], src)
	}
	fmt.Fprintf(stdout, "  enforcement: %s by default", p.Mode(""))
	keys := make([]string, 0, len(modes))
	for m := range modes {
		keys = append(keys, string(m))
	}
	sort.Strings(keys)
	for _, m := range keys {
		fmt.Fprintf(stdout, "; %s for %s", m, strings.Join(modes[plan.Mode(m)], ", "))
	}
	fmt.Fprintln(stdout)
	return nil
}

func planInferCmd(ctx context.Context, args, env []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("plan infer", flag.ContinueOnError)
	fs.SetOutput(stderr)
	tf := addToolFlags(fs)
	since := fs.String("since", "30d", "events since this date (2026-11-01) or for this many days back (30d); empty: all")
	source := fs.String("source", "", "only this source's events")
	perEvent := fs.Int("per-event", 100_000, "latest occurrences of each event read for its properties")
	out := fs.String("o", "", "write the draft to this file instead of standard output")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	from, err := parseSince(*since, time.Now())
	if err != nil {
		return err
	}
	cfg, err := tf.load(env)
	if err != nil {
		return err
	}
	st, err := openToolStore(ctx, cfg, toolLogger(stderr, cfg), "draft the plan from a copy of the data directory")
	if err != nil {
		return err
	}
	defer st.Close()
	o := plan.InferOptions{Since: from, Source: *source, PerEvent: *perEvent}
	obs, err := plan.Infer(ctx, st.DB(), o)
	if err != nil {
		return err
	}
	if len(obs) == 0 {
		return errors.New("no events stored in that range: nothing to draft from")
	}
	draft, err := plan.Draft(obs, o)
	if err != nil {
		return err
	}
	if *out == "" {
		_, err = stdout.Write(draft)
		return err
	}
	if err := os.WriteFile(*out, draft, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "drafted %d events into %s; check it with: actlog plan check %s\n", len(obs), *out, *out)
	return nil
}

// parseSince reads 2026-11-01, an RFC 3339 time, or 30d; "" is the zero
// time (no bound).
func parseSince(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if d, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		if _, err := fmt.Sscanf(d, "%d", &n); err == nil && n > 0 && fmt.Sprint(n) == d {
			return now.UTC().AddDate(0, 0, -n), nil
		}
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("--since %q: want a date (2026-11-01), a time (RFC 3339) or days (30d)", s)
}
