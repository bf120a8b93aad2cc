package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Entry is one guestbook message.
type Entry struct {
	ID      int64     `json:"id"`
	Name    string    `json:"name"`
	Message string    `json:"message"`
	Time    time.Time `json:"time"`
}

// GuestbookStore keeps the guestbook. The demo gets one store per app
// server; a store shared by all of them needs the db role.
type GuestbookStore interface {
	// List returns the entries, newest first.
	List(ctx context.Context) ([]Entry, error)
	// Add stores a valid entry and returns it with its ID and, if it had
	// none, its Time.
	Add(ctx context.Context, e Entry) (Entry, error)
	// Kind names where entries are kept, such as "memory", for the page
	// and the API to say so.
	Kind() string
}

// Limits on a guestbook entry, in characters.
const (
	maxNameLen    = 64
	maxMessageLen = 500
)

// newEntry trims and checks a submitted name and message.
func newEntry(name, message string) (Entry, error) {
	e := Entry{Name: strings.TrimSpace(name), Message: strings.TrimSpace(message)}
	switch {
	case e.Name == "":
		return Entry{}, errors.New("name is required")
	case e.Message == "":
		return Entry{}, errors.New("message is required")
	case utf8.RuneCountInString(e.Name) > maxNameLen:
		return Entry{}, fmt.Errorf("name is longer than %d characters", maxNameLen)
	case utf8.RuneCountInString(e.Message) > maxMessageLen:
		return Entry{}, fmt.Errorf("message is longer than %d characters", maxMessageLen)
	}
	return e, nil
}

// MemoryStore keeps the newest entries in this process's memory, so they
// are lost when it restarts and are not seen by other app servers.
type MemoryStore struct {
	max int

	mu      sync.Mutex
	entries []Entry // oldest first
	lastID  int64
}

// memoryStoreMax bounds a MemoryStore so that a public guestbook cannot be
// used to fill the app server's memory.
const memoryStoreMax = 1000

// NewMemoryStore returns an empty store that keeps the newest 1000 entries.
func NewMemoryStore() *MemoryStore { return &MemoryStore{max: memoryStoreMax} }

// Kind returns "memory".
func (m *MemoryStore) Kind() string { return "memory" }

// List returns the entries, newest first.
func (m *MemoryStore) List(ctx context.Context) ([]Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Entry, len(m.entries))
	for i, e := range m.entries {
		out[len(out)-1-i] = e
	}
	return out, nil
}

// Add stores e, dropping the oldest entry when the store is full.
func (m *MemoryStore) Add(ctx context.Context, e Entry) (Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lastID++
	e.ID = m.lastID
	if e.Time.IsZero() {
		e.Time = time.Now().UTC().Truncate(time.Second)
	}
	if len(m.entries) >= m.max {
		m.entries = append(m.entries[:0], m.entries[len(m.entries)-m.max+1:]...)
	}
	m.entries = append(m.entries, e)
	return e, nil
}
