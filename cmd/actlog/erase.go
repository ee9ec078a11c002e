package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/actlog/actlog/internal/privacy"
)

func eraseCmd(ctx context.Context, args, env []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("erase", flag.ContinueOnError)
	fs.SetOutput(stderr)
	tf := addToolFlags(fs)
	user := fs.String("user", "", "the member's user id: every event of it and of the devices linked to it is erased")
	by := fs.String("requested-by", "cli", "who asked, for the audit (a ticket number, a name)")
	retry := fs.Bool("retry-lake", false, "rewrite the lake partitions of earlier erasures whose lake rewrite failed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if (*user == "") == !*retry {
		return errors.New("give --user ID, or --retry-lake")
	}
	cfg, err := tf.load(env)
	if err != nil {
		return err
	}
	log := toolLogger(stderr, cfg)
	st, err := openToolStore(ctx, cfg, log, "use the API: curl -X DELETE -H 'Authorization: Bearer …' <actlog>/api/v1/users/<id>")
	if err != nil {
		return err
	}
	defer st.Close()
	lake, _, err := lakeOf(cfg, st, log, nil)
	if err != nil {
		return err
	}
	er, err := privacy.NewEraser(st, privacy.EraserOptions{Lake: lake, Logger: log})
	if err != nil {
		return err
	}
	if *retry {
		n, err := er.RetryLake(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "lake rewritten for %d erasure(s)\n", n)
		return nil
	}
	res, err := er.Erase(ctx, *user, *by)
	out, _ := json.MarshalIndent(res, "", "  ")
	fmt.Fprintf(stdout, "%s\n", out)
	return err
}
