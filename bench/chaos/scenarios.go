package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// options are the knobs of a run.
type options struct {
	bin           string
	kills         int
	rate          float64
	workers       int
	duration      time.Duration // load before and after the chaos, and each scale phase
	outage        time.Duration
	killEvery     time.Duration // mean uptime before a kill
	startupKills  float64       // chance that a restart is itself killed during start-up (embedded)
	commitTimeout time.Duration
	resend        float64
	scaleResend   float64 // resend in scale (dedupe is per store)
	seed          int64
	brokerTerm    bool // end kafka-dev with SIGTERM instead of SIGKILL
}

func (o options) loadConfig(base string, seed int64) loadConfig {
	return loadConfig{base: base, workers: o.workers, rate: o.rate, resend: o.resend, seed: seed, timeout: 30 * time.Second}
}

func (o options) loadText() string {
	rate := "as fast as answers come"
	if o.rate > 0 {
		rate = fmt.Sprintf("at most %g new batches/s", o.rate)
	}
	return fmt.Sprintf("%d clients, 10-event batches of the loadgen's e-book members, %s, each retried with the same messageIds until 2xx (Retry-After capped at 2 s, else backoff 50 ms…1 s); %.0f%% of turns resend an acknowledged batch; ingest.commit_timeout %s",
		o.workers, rate, o.resend*100, o.commitTimeout)
}

// scenario runs one scenario in p.dir; it fills res.
type scenario func(ctx context.Context, o options, p *procs, res *result) error

type namedScenario struct {
	name string
	run  scenario
}

// scenarios lists the scenarios in the order of "all".
func scenarios() []namedScenario {
	return []namedScenario{
		{"embedded", embedded},
		{"kafka-kills", kafkaKills},
		{"brokers-down", brokersDown},
		{"scale", scale},
	}
}

func randDur(rng *rand.Rand, lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(rng.Int64N(int64(hi-lo)))
}

// loadRun is the running load of a scenario; stop ends it once and keeps
// its totals in res.
type loadRun struct {
	l       *load
	res     *result
	stopped bool
}

func (lr *loadRun) stop(limit time.Duration) {
	if lr.stopped {
		return
	}
	lr.stopped = true
	if n := lr.l.stop(limit); n > 0 {
		lr.res.note("%d batches were still unacknowledged %v after the load stopped and were abandoned (not counted as acknowledged)", n, limit)
	}
	lr.res.stats = lr.l.stats()
}

// finalCheck compares every acknowledged id with the stores.
func finalCheck(ctx context.Context, res *result, l *load, stores ...*role) error {
	var all []map[string]int
	for _, s := range stores {
		c, err := storeCounts(ctx, s)
		if err != nil {
			return err
		}
		all = append(all, c)
		if len(stores) > 1 {
			res.stores = append(res.stores, fmt.Sprintf("%s %d", strings.TrimSuffix(s.name, "-reader"), len(c)))
		}
	}
	sent, acked, resent := l.snapshot()
	res.final = compare(l.ackedPrefix(l.ackedCount()), sent, acked, resent, all...)
	res.checked = true
	return nil
}

// embedded: actlog serve killed with SIGKILL at random moments under load;
// after each restart every event acknowledged before the kill is stored
// exactly once.
func embedded(ctx context.Context, o options, p *procs, res *result) error {
	res.title = fmt.Sprintf("actlog serve (embedded) killed with SIGKILL %d times under load", o.kills)
	port, err := freePort()
	if err != nil {
		return err
	}
	srv, err := p.newRole("serve", "serve", roleConfig{port: port, dataDir: filepath.Join(p.dir, "serve-data"), commitTimeout: o.commitTimeout})
	if err != nil {
		return err
	}
	if err := srv.start(ctx); err != nil {
		return err
	}
	lr := &loadRun{l: startLoad(o.loadConfig(srv.base, o.seed)), res: res}
	defer lr.stop(0)
	rng := rand.New(rand.NewPCG(uint64(o.seed), 1))

	var serving, startup, startupReady, checks int
	var restarts []time.Duration
	kills := 0
	for kills < o.kills {
		at := randDur(rng, 100*time.Millisecond, 2*o.killEvery)
		if err := sleep(ctx, at); err != nil {
			return err
		}
		if err := srv.alive(); err != nil {
			res.fail("%v", err)
			return err
		}
		n := lr.l.ackedCount()
		srv.kill()
		kills++
		serving++
		res.logf("kill %d/%d: serve after %s of serving", kills, o.kills, dur(at))
		// Some restarts are killed too, at a random moment of their start-up.
		for kills < o.kills && rng.Float64() < o.startupKills {
			if err := srv.spawn(); err != nil {
				return err
			}
			at := randDur(rng, 0, 1500*time.Millisecond)
			if err := sleep(ctx, at); err != nil {
				return err
			}
			if err := srv.alive(); err != nil {
				res.fail("%v", err)
				return err
			}
			ready := srv.ready()
			if ready {
				startupReady++
			}
			n = lr.l.ackedCount()
			srv.kill()
			kills++
			startup++
			res.logf("kill %d/%d: serve %s after its start (ready: %v)", kills, o.kills, dur(at), ready)
		}
		t0 := time.Now()
		if err := srv.start(ctx); err != nil {
			res.fail("restart after kill %d: %v", kills, err)
			return err
		}
		restarts = append(restarts, time.Since(t0))
		counts, err := storeCounts(ctx, srv)
		if err != nil {
			return err
		}
		t := compare(lr.l.ackedPrefix(n), nil, nil, nil, counts)
		checks++
		if t.lost > 0 || t.duplicated > 0 {
			res.fail("after the restart following kill %d: %d of %d events acknowledged before the kill lost %v, %d stored more than once %v",
				kills, t.lost, n, t.lostSample, t.duplicated, t.dupSample)
		}
		res.logf("restarted in %s; the %d events acknowledged before the kill: lost %d, duplicated %d (%d rows stored)",
			dur(time.Since(t0)), n, t.lost, t.duplicated, t.storedRows)
	}
	res.logf("load on the last incarnation for %s", o.duration)
	if err := sleep(ctx, o.duration); err != nil {
		return err
	}
	if err := srv.alive(); err != nil {
		res.fail("%v", err)
		return err
	}
	lr.stop(60 * time.Second)
	if err := finalCheck(ctx, res, lr.l, srv); err != nil {
		return err
	}
	res.fig("kills", "%d SIGKILLs of actlog serve: %d while serving (%s…%s after the restart was checked, seeded), %d during start-up (%d of them already ready)",
		kills, serving, dur(100*time.Millisecond), dur(2*o.killEvery), startup, startupReady)
	res.fig("restart to ready", "%s", spread(restarts))
	res.fig("checks after restarts", "%d: each time, every event acknowledged before the kill was stored exactly once: %v", checks, len(res.failures) == 0)
	return srv.c.stop(60 * time.Second)
}

// spread is "median X, max Y over N".
func spread(ds []time.Duration) string {
	if len(ds) == 0 {
		return "none"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return fmt.Sprintf("median %s, max %s (%d restarts)", dur(s[len(s)/2]), dur(s[len(s)-1]), len(s))
}

// kafkaTier starts kafka-dev, ingest and one processor.
func kafkaTier(ctx context.Context, o options, p *procs) (*kafkaDev, *role, *role, error) {
	k, err := newKafkaDev(p, "kafka-dev", filepath.Join(p.dir, "kafka"))
	if err != nil {
		return nil, nil, nil, err
	}
	if err := k.start(ctx); err != nil {
		return nil, nil, nil, err
	}
	ing, err := newKafkaRole(p, "ingest", "ingest", k.brokers, o.commitTimeout)
	if err != nil {
		return nil, nil, nil, err
	}
	proc, err := newKafkaRole(p, "p1", "process", k.brokers, o.commitTimeout)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := proc.start(ctx); err != nil {
		return nil, nil, nil, err
	}
	if err := ing.start(ctx); err != nil {
		return nil, nil, nil, err
	}
	return k, ing, proc, nil
}

func newKafkaRole(p *procs, name, cmd string, brokers []string, commit time.Duration) (*role, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	return p.newRole(name, cmd, roleConfig{port: port, dataDir: filepath.Join(p.dir, name+"-data"), brokers: brokers, group: "chaos", commitTimeout: commit})
}

// storedSum is the records of actlog.events a processor's store holds offsets for.
func storedSum(ctx context.Context, r *role) (int64, error) {
	o, err := storedOffsets(ctx, r)
	if err != nil {
		return 0, err
	}
	return records(o, topicEvents), nil
}

// waitStoring waits until r's store holds more than base records' offsets.
func waitStoring(ctx context.Context, r *role, base int64, limit time.Duration) error {
	return waitFor(ctx, limit, r.name+" to store records", func() (bool, error) {
		if err := r.alive(); err != nil {
			return false, err
		}
		n, err := storedSum(ctx, r)
		return n > base, err
	})
}

// drain waits until the live processors, with the final offsets of the
// stopped ones, have stored every record of both topics (end offsets read
// again each time, for records of timed-out requests landing late), and
// reports the lag when the load stopped and the time to drain it.
func drain(ctx context.Context, res *result, brokers []string, live []*role, stopped ...offsets) error {
	current := func() (int64, offsets, error) {
		end, err := endOffsets(ctx, brokers)
		if err != nil {
			return 0, nil, err
		}
		all := slices.Clone(stopped)
		for _, r := range live {
			o, err := storedOffsets(ctx, r)
			if err != nil {
				return 0, nil, err
			}
			all = append(all, o)
		}
		return lag(end, merge(all...)), end, nil
	}
	t0 := time.Now()
	l0, _, err := current()
	if err != nil {
		return err
	}
	zeros := 0
	var end offsets
	var last int64
	var lastErr error
	err = waitFor(ctx, 3*time.Minute, "the processors to store every record", func() (bool, error) {
		n, e, err := current()
		if err != nil {
			// Kept, and retried: a stuck processor is reported with evidence below.
			lastErr = err
			return false, nil
		}
		end, last = e, n
		if n == 0 {
			zeros++
		} else {
			zeros = 0
		}
		return zeros >= 3, nil
	})
	if err != nil {
		var dumps []string
		for _, r := range live {
			dumps = append(dumps, r.dumpGoroutines())
		}
		res.fail("%v: lag still %d records (last error: %v); goroutines in %s", err, last, lastErr, strings.Join(dumps, ", "))
		return nil
	}
	res.fig("consumer lag", "%d records when the load stopped; 0 after %s; topics end at %d records (%s) and %d (%s)",
		l0, dur(time.Since(t0)), records(end, topicEvents), topicEvents, records(end, topicRejected), topicRejected)
	res.topicRecords = records(end, topicEvents)
	return nil
}

// aliveAll returns the first child that exited by itself.
func aliveAll(k *kafkaDev, roles ...*role) error {
	if k != nil && !k.c.running() {
		return fmt.Errorf("kafka-dev exited by itself: %v\n%s", k.c.err, k.c.logTail(20))
	}
	for _, r := range roles {
		if err := r.alive(); err != nil {
			return err
		}
	}
	return nil
}

// kafkaKills: ingest and process killed with SIGKILL at random moments
// (seeded, half each) under load, with kafka-dev as its own process.
func kafkaKills(ctx context.Context, o options, p *procs, res *result) error {
	res.title = fmt.Sprintf("Kafka tier (ingest → kafka-dev → process): ingest and process killed with SIGKILL %d times under load", o.kills)
	k, ing, proc, err := kafkaTier(ctx, o, p)
	if err != nil {
		return err
	}
	lr := &loadRun{l: startLoad(o.loadConfig(ing.base, o.seed)), res: res}
	defer lr.stop(0)
	if err := waitStoring(ctx, proc, 0, 60*time.Second); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(uint64(o.seed), 2))
	targets := make([]*role, o.kills)
	for i := range targets {
		targets[i] = ing
		if i%2 == 1 {
			targets[i] = proc
		}
	}
	rng.Shuffle(len(targets), func(i, j int) { targets[i], targets[j] = targets[j], targets[i] })

	var restarts, catchUps []time.Duration
	checks := 0
	for i, tgt := range targets {
		if tgt == proc {
			base, err := storedSum(ctx, proc)
			if err != nil {
				return err
			}
			if err := waitStoring(ctx, proc, base, 120*time.Second); err != nil {
				return err
			}
		}
		at := randDur(rng, 100*time.Millisecond, 2*o.killEvery)
		if err := sleep(ctx, at); err != nil {
			return err
		}
		if err := aliveAll(k, ing, proc); err != nil {
			res.fail("%v", err)
			return err
		}
		n := lr.l.ackedCount()
		tgt.kill()
		res.logf("kill %d/%d: %s, %s after it was storing/ready", i+1, o.kills, tgt.name, dur(at))
		t0 := time.Now()
		if err := tgt.start(ctx); err != nil {
			res.fail("restart of %s after kill %d: %v", tgt.name, i+1, err)
			return err
		}
		restarts = append(restarts, time.Since(t0))
		// Everything acknowledged before the kill is in the topic below
		// these end offsets: wait until the store holds them, then check.
		end, err := endOffsets(ctx, k.brokers)
		if err != nil {
			return err
		}
		t1 := time.Now()
		err = waitFor(ctx, 3*time.Minute, "the processor to store what was produced before the kill", func() (bool, error) {
			if err := proc.alive(); err != nil {
				return false, err
			}
			st, err := storedOffsets(ctx, proc)
			return err == nil && lag(end, st) == 0, err
		})
		if err != nil {
			res.fail("%v", err)
			return err
		}
		catchUps = append(catchUps, time.Since(t1))
		counts, err := storeCounts(ctx, proc)
		if err != nil {
			return err
		}
		t := compare(lr.l.ackedPrefix(n), nil, nil, nil, counts)
		checks++
		if t.lost > 0 || t.duplicated > 0 {
			res.fail("after kill %d (%s): %d of %d events acknowledged before the kill lost %v, %d stored more than once %v",
				i+1, tgt.name, t.lost, n, t.lostSample, t.duplicated, t.dupSample)
		}
		res.logf("%s restarted in %s, store caught up in %s; the %d events acknowledged before the kill: lost %d, duplicated %d",
			tgt.name, dur(restarts[len(restarts)-1]), dur(catchUps[len(catchUps)-1]), n, t.lost, t.duplicated)
	}
	res.logf("load for %s more", o.duration)
	if err := sleep(ctx, o.duration); err != nil {
		return err
	}
	if err := aliveAll(k, ing, proc); err != nil {
		res.fail("%v", err)
		return err
	}
	lr.stop(60 * time.Second)
	if err := drain(ctx, res, k.brokers, []*role{proc}); err != nil {
		return err
	}
	if err := finalCheck(ctx, res, lr.l, proc); err != nil {
		return err
	}
	res.fig("kills", "%d SIGKILLs: ingest %d, process %d (seeded order; each %s…%s after the victim was ready, a process only once it was storing)",
		len(targets), ing.kills, proc.kills, dur(100*time.Millisecond), dur(2*o.killEvery))
	res.fig("restart to ready", "%s", spread(restarts))
	res.fig("store caught up", "after each restart, all produced before the kill stored within: %s (a killed processor's partitions wait for its session timeout, 6 s here)", spread(catchUps))
	res.fig("checks after restarts", "%d: each time, every event acknowledged before the kill was stored exactly once: %v", checks, len(res.failures) == 0)
	return errors.Join(ing.c.stop(60*time.Second), proc.c.stop(60*time.Second), k.c.stop(60*time.Second))
}

// brokersDown: kafka-dev killed under load for the outage, then started
// again on the same data directory and ports.
func brokersDown(ctx context.Context, o options, p *procs, res *result) error {
	how := "SIGKILL"
	if o.brokerTerm {
		how = "SIGTERM"
	}
	res.title = fmt.Sprintf("kafka-dev (all brokers) ended with %s for %s under load, then restarted on its data dir and ports", how, o.outage)
	pre, err := kafkaPreflight(ctx, p, p.dir, o.brokerTerm)
	if err != nil {
		res.fail("preflight: %v", err)
		return err
	}
	res.fig("kafka-dev restart check", "%s", pre)
	res.logf("%s", pre)

	k, ing, proc, err := kafkaTier(ctx, o, p)
	if err != nil {
		return err
	}
	lr := &loadRun{l: startLoad(o.loadConfig(ing.base, o.seed)), res: res}
	defer lr.stop(0)
	res.logf("load for %s before the outage", o.duration)
	if err := sleep(ctx, o.duration); err != nil {
		return err
	}
	if err := aliveAll(k, ing, proc); err != nil {
		res.fail("%v", err)
		return err
	}
	ackedBefore := lr.l.ackedCount()
	down := time.Now()
	if err := k.down(o.brokerTerm); err != nil {
		return err
	}
	res.logf("kafka-dev down (%s)", how)
	polls, ready503 := 0, 0
	for time.Since(down) < o.outage {
		polls++
		if p.status(ing.base+"/readyz", 5*time.Second) == http.StatusServiceUnavailable {
			ready503++
		}
		if err := aliveAll(nil, ing, proc); err != nil {
			res.fail("during the outage: %v", err)
			return err
		}
		if err := sleep(ctx, 500*time.Millisecond); err != nil {
			return err
		}
	}
	t0 := time.Now()
	if err := k.start(ctx); err != nil {
		res.fail("kafka-dev did not come back on its data dir: %v", err)
		return err
	}
	up := time.Now()
	res.logf("kafka-dev back after %s (its start took %s)", dur(up.Sub(down)), dur(up.Sub(t0)))
	var recovered time.Duration
	err = waitFor(ctx, 3*time.Minute, "ingest to answer 2xx again by itself", func() (bool, error) {
		if err := aliveAll(k, ing, proc); err != nil {
			return false, err
		}
		for _, a := range lr.l.answersSince(up) {
			if a.code >= 200 && a.code < 300 {
				if d := a.end().Sub(up); recovered == 0 || d < recovered {
					recovered = max(d, time.Nanosecond)
				}
			}
		}
		return recovered > 0, nil
	})
	if err != nil {
		res.fail("%v", err)
		return err
	}
	var readyAgain time.Duration
	err = waitFor(ctx, 3*time.Minute, "ingest /readyz 200 again", func() (bool, error) {
		ok := ing.ready()
		readyAgain = time.Since(up)
		return ok, nil
	})
	if err != nil {
		res.fail("%v", err)
		return err
	}
	res.logf("ingest answered 2xx %s after the brokers were back; /readyz 200 after %s", dur(recovered), dur(readyAgain))
	res.logf("load for %s after the outage", o.duration)
	if err := sleep(ctx, o.duration); err != nil {
		return err
	}
	if err := aliveAll(k, ing, proc); err != nil {
		res.fail("%v", err)
		return err
	}
	lr.stop(60 * time.Second)

	// The answers to requests in flight at any time of the outage.
	var n, ok, s503, noRA, errs, other, slow int
	var longest time.Duration
	limit := o.commitTimeout + time.Second
	for _, a := range lr.l.answersSince(down) {
		if !a.start.Before(up) {
			continue
		}
		n++
		longest = max(longest, a.took)
		if a.took > limit {
			slow++
		}
		switch {
		case a.code >= 200 && a.code < 300:
			ok++
		case a.code == http.StatusServiceUnavailable:
			s503++
			if a.retryAfter == "" {
				noRA++
			}
		case a.code == 0:
			errs++
		default:
			other++
		}
	}
	if err := drain(ctx, res, k.brokers, []*role{proc}); err != nil {
		return err
	}
	if err := finalCheck(ctx, res, lr.l, proc); err != nil {
		return err
	}
	res.fig("before the outage", "%d events acknowledged", ackedBefore)
	res.fig("answers in the outage", "%d requests in flight between the kill and the brokers' return: %d × 503 (%d without Retry-After), %d × 2xx, %d errors, %d other", n, s503, noRA, ok, errs, other)
	res.fig("longest answer", "%s in the outage; %d answers took longer than ingest.commit_timeout + 1 s (%s)", dur(longest), slow, limit)
	res.fig("/readyz in the outage", "503 in %d of %d polls", ready503, polls)
	res.fig("recovery", "first 2xx %s after kafka-dev was back (its restart took %s); /readyz 200 after %s; ingest and process never restarted", dur(recovered), dur(up.Sub(t0)), dur(readyAgain))
	return errors.Join(ing.c.stop(60*time.Second), proc.c.stop(60*time.Second), k.c.stop(60*time.Second))
}

// scale: processors scaled 1 → 3 → 1 (joins, then graceful leaves) under
// load; the union of the three stores holds every event exactly once.
func scale(ctx context.Context, o options, p *procs, res *result) error {
	res.title = "processors scaled 1 → 3 → 1 under load (one consumer group, a store each)"
	// Dedupe is per store (docs/kafka.md, limitations): a resend of an
	// acknowledged batch after its partition moved is kept by both stores.
	// Real clients resend only what got no 2xx, so resends are off here
	// unless asked for.
	o.resend = o.scaleResend
	res.load = o.loadText()
	k, ing, p1, err := kafkaTier(ctx, o, p)
	if err != nil {
		return err
	}
	lr := &loadRun{l: startLoad(o.loadConfig(ing.base, o.seed)), res: res}
	defer lr.stop(0)
	if err := waitStoring(ctx, p1, 0, 60*time.Second); err != nil {
		return err
	}
	res.logf("1 processor for %s", o.duration)
	if err := sleep(ctx, o.duration); err != nil {
		return err
	}
	var joins []string
	var added []*role
	for _, name := range []string{"p2", "p3"} {
		r, err := newKafkaRole(p, name, "process", k.brokers, o.commitTimeout)
		if err != nil {
			return err
		}
		t0 := time.Now()
		if err := r.start(ctx); err != nil {
			return err
		}
		added = append(added, r)
		if err := waitStoring(ctx, r, 0, 2*time.Minute); err != nil {
			res.fail("%v", err)
			return err
		}
		joins = append(joins, fmt.Sprintf("%s stored its first poll %s after its start", name, dur(time.Since(t0))))
		res.logf("%s", joins[len(joins)-1])
	}
	res.logf("3 processors for %s", o.duration)
	if err := sleep(ctx, o.duration); err != nil {
		return err
	}
	if err := aliveAll(k, append([]*role{ing, p1}, added...)...); err != nil {
		res.fail("%v", err)
		return err
	}
	// Scale down: graceful stops, then read their stores with an embedded
	// actlog serve on each data directory (no Kafka).
	var readers []*role
	var final []offsets
	for _, r := range added {
		t0 := time.Now()
		if err := r.c.stop(2 * time.Minute); err != nil {
			res.fail("%v", err)
			return err
		}
		res.logf("%s stopped (SIGTERM) in %s", r.name, dur(time.Since(t0)))
		port, err := freePort()
		if err != nil {
			return err
		}
		rd, err := p.newRole(r.name+"-reader", "serve", roleConfig{port: port, dataDir: filepath.Join(p.dir, r.name+"-data"), commitTimeout: o.commitTimeout})
		if err != nil {
			return err
		}
		if err := rd.start(ctx); err != nil {
			return err
		}
		off, err := storedOffsets(ctx, rd)
		if err != nil {
			return err
		}
		readers = append(readers, rd)
		final = append(final, off)
	}
	base, err := storedSum(ctx, p1)
	if err != nil {
		return err
	}
	if err := waitStoring(ctx, p1, base, 2*time.Minute); err != nil {
		res.fail("%v", err)
		return err
	}
	res.logf("1 processor again for %s", o.duration)
	if err := sleep(ctx, o.duration); err != nil {
		return err
	}
	if err := aliveAll(k, ing, p1); err != nil {
		res.fail("%v", err)
		return err
	}
	lr.stop(60 * time.Second)
	if err := drain(ctx, res, k.brokers, []*role{p1}, final...); err != nil {
		return err
	}
	if err := finalCheck(ctx, res, lr.l, append([]*role{p1}, readers...)...); err != nil {
		return err
	}
	res.fig("scale", "1 → 3 (%s) → 1 (p2, p3 stopped with SIGTERM), %s per phase", strings.Join(joins, "; "), o.duration)
	res.note("duplicated counts an event stored twice in one store or once in each of two stores")
	stops := []error{ing.c.stop(60 * time.Second), p1.c.stop(60 * time.Second), k.c.stop(60 * time.Second)}
	for _, rd := range readers {
		stops = append(stops, rd.c.stop(60*time.Second))
	}
	return errors.Join(stops...)
}
