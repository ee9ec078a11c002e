package lake

import (
	"context"
	"errors"
)

// ErrNotFound is returned by Destination.Get when no object has the key.
var ErrNotFound = errors.New("object not found")

// Destination is where the lake's objects live, under slash-separated
// keys relative to its root (a directory, or a bucket and prefix).
type Destination interface {
	// Put stores the local file at key, replacing any object there: a
	// reader sees the old object or the new one whole, never a part.
	Put(ctx context.Context, key, file string) error
	// Get reads a small object (a manifest); ErrNotFound when absent.
	Get(ctx context.Context, key string) ([]byte, error)
	// GetFile copies the object at key, of any size, to the local file;
	// ErrNotFound when absent.
	GetFile(ctx context.Context, key, file string) error
	// List returns the objects whose keys end with suffix, each with a tag
	// that changes whenever the object does.
	List(ctx context.Context, suffix string) ([]Object, error)
	// Delete removes key; a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// String names the destination for logs (never with credentials).
	String() string
}

// Object is a listed object of a Destination.
type Object struct {
	Key string
	Tag string // changes when the object changes (ETag, or size and mtime)
}

var (
	_ Destination = (*Dir)(nil)
	_ Destination = (*S3)(nil)
)
