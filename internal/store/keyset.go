package store

// keySet is an open-addressing hash set of 64-bit keys (linear probing,
// load factor at most 3/4): 8 bytes a slot, so 10.7–21 bytes a key, against
// about 38 for a Go map[uint64]struct{}. Keys are already uniform hashes, so
// the slot is taken from the key's high bits directly.
type keySet struct {
	slots   []uint64
	n       int
	hasZero bool // 0 marks an empty slot, so key 0 is kept aside
	shift   uint
}

func newKeySet() *keySet {
	const initial = 1 << 10
	return &keySet{slots: make([]uint64, initial), shift: 64 - 10}
}

func (s *keySet) len() int {
	if s.hasZero {
		return s.n + 1
	}
	return s.n
}

func (s *keySet) has(k uint64) bool {
	if k == 0 {
		return s.hasZero
	}
	mask := uint64(len(s.slots) - 1)
	for i := k >> s.shift; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case k:
			return true
		case 0:
			return false
		}
	}
}

func (s *keySet) add(k uint64) {
	if k == 0 {
		s.hasZero = true
		return
	}
	if (s.n+1)*4 > len(s.slots)*3 {
		s.grow()
	}
	if s.insert(k) {
		s.n++
	}
}

func (s *keySet) insert(k uint64) bool {
	mask := uint64(len(s.slots) - 1)
	for i := k >> s.shift; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case k:
			return false
		case 0:
			s.slots[i] = k
			return true
		}
	}
}

func (s *keySet) grow() {
	old := s.slots
	s.slots = make([]uint64, 2*len(old))
	s.shift--
	for _, k := range old {
		if k != 0 {
			s.insert(k)
		}
	}
}

// keys appends every key to dst.
func (s *keySet) keys(dst []uint64) []uint64 {
	if s.hasZero {
		dst = append(dst, 0)
	}
	for _, k := range s.slots {
		if k != 0 {
			dst = append(dst, k)
		}
	}
	return dst
}
