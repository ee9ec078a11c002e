package ingest

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"sync"
	"time"
)

// IPMode is what actlog keeps of a client address.
type IPMode string

// The IP modes.
const (
	IPTruncate IPMode = "truncate" // IPv4 /24, IPv6 /48 (the default)
	IPKeep     IPMode = "keep"     // the whole address
	IPHash     IPMode = "hash"     // a keyed hash, its key rotating
	IPDrop     IPMode = "drop"     // nothing
)

// ParseIPMode reads an IP mode; "" is truncate.
func ParseIPMode(s string) (IPMode, error) {
	switch m := IPMode(s); m {
	case "":
		return IPTruncate, nil
	case IPTruncate, IPKeep, IPHash, IPDrop:
		return m, nil
	}
	return "", fmt.Errorf("ip mode %q: use keep, truncate, hash or drop", s)
}

// Salt keys the hash of client addresses (IP mode hash). Its key changes
// every period (a day by default; periods counted from the Unix epoch, so
// a day runs from midnight UTC): an address hashes to the same value within a period, so visits
// can be counted, and to unrelated values across periods, so no one can
// follow an address over time or reverse the hash by trying every
// address, once the period's key is gone. A Salt is safe for concurrent
// use.
//
// With a secret, every collector replica derives the same key for a
// period (HMAC of the period number), and the key of a past period can be
// derived again by whoever holds the secret. Without one, the key is
// random per process and period, and forgotten when the period ends.
type Salt struct {
	secret []byte // nil: random keys
	period time.Duration

	mu   sync.Mutex
	keys map[int64][]byte // by period: the last few, so that requests at a boundary agree
}

// keptKeys is how many periods' keys a Salt remembers.
const keptKeys = 3

// NewSalt returns a Salt deriving its keys from secret (nil or empty:
// random keys), rotating every period (0: 24 hours).
func NewSalt(secret []byte, period time.Duration) *Salt {
	if period <= 0 {
		period = 24 * time.Hour
	}
	if len(secret) == 0 {
		secret = nil
	}
	return &Salt{secret: secret, period: period, keys: map[int64][]byte{}}
}

// keyAt is the key of the period holding t. A random key, once dropped,
// is gone: a period more than keptKeys behind the newest gets a new one.
func (s *Salt) keyAt(t time.Time) []byte {
	n := t.UnixNano() / int64(s.period)
	s.mu.Lock()
	defer s.mu.Unlock()
	if k, ok := s.keys[n]; ok {
		return k
	}
	var k []byte
	if s.secret != nil {
		m := hmac.New(sha256.New, s.secret)
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], uint64(n))
		m.Write(b[:])
		k = m.Sum(nil)
	} else {
		k = make([]byte, 32)
		_, _ = rand.Read(k) // never fails (crypto/rand panics instead)
	}
	s.keys[n] = k
	for len(s.keys) > keptKeys {
		oldest := n
		for p := range s.keys {
			oldest = min(oldest, p)
		}
		delete(s.keys, oldest)
	}
	return k
}

// Hash is the stored form of a with the key of the period holding at:
// "h:" and 16 hex digits.
func (s *Salt) Hash(a netip.Addr, at time.Time) string {
	m := hmac.New(sha256.New, s.keyAt(at))
	b, _ := a.MarshalBinary()
	m.Write(b)
	return "h:" + hex.EncodeToString(m.Sum(nil)[:8])
}
