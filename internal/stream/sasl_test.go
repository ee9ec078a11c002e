package stream

import (
	"context"
	"log/slog"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
)

// TestSASL connects the producer to a cluster that requires SASL, with each
// mechanism kfake speaks, and with a wrong password.
func TestSASL(t *testing.T) {
	for _, mech := range []struct{ name, kafka string }{
		{"plain", "PLAIN"}, {"scram-sha-256", "SCRAM-SHA-256"}, {"scram-sha-512", "SCRAM-SHA-512"},
	} {
		t.Run(mech.name, func(t *testing.T) {
			c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(),
				kfake.Superuser(mech.kafka, "actlog", "s3cret"),
				kfake.SeedTopics(1, "actlog.events", "actlog.rejected"))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			opts := Options{Brokers: c.ListenAddrs(), SASL: SASLOptions{Mechanism: mech.name, Username: "actlog", Password: "s3cret"}}
			p, err := NewProducer(context.Background(), opts, slog.New(slog.DiscardHandler), nil)
			if err != nil {
				t.Fatalf("connect with %s: %v", mech.name, err)
			}
			if err := p.Write(context.Background(), events("sasl", 3)); err != nil {
				t.Fatalf("produce with %s: %v", mech.name, err)
			}
			_ = p.Close(context.Background())

			opts.SASL.Password = "wrong"
			if p, err := NewProducer(context.Background(), opts, slog.New(slog.DiscardHandler), nil); err == nil {
				_ = p.Close(context.Background())
				t.Fatalf("%s with a wrong password connected", mech.name)
			}
		})
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
		ok   bool
	}{
		{"minimal", Options{Brokers: []string{"b:9092"}}, true},
		{"no brokers", Options{}, false},
		{"unknown mechanism", Options{Brokers: []string{"b:9092"}, SASL: SASLOptions{Mechanism: "kerberos"}}, false},
		{"scram without password", Options{Brokers: []string{"b:9092"}, SASL: SASLOptions{Mechanism: "scram-sha-512", Username: "u"}}, false},
		{"msk iam needs no password", Options{Brokers: []string{"b:9098"}, SASL: SASLOptions{Mechanism: "aws-msk-iam"}}, true},
		{"bad compression", Options{Brokers: []string{"b:9092"}, Producer: ProducerOptions{Compression: "brotli"}}, false},
		{"heartbeat too slow", Options{Brokers: []string{"b:9092"}, Consumer: ConsumerOptions{SessionTimeout: 6e9, HeartbeatInterval: 3e9}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.o.Validate(); (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
