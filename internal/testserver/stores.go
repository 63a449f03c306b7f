package testserver

import (
	"context"
	"errors"
	"sync/atomic"

	"itemsapi/items"
)

// Counting is a store that counts the calls that reach the store it
// wraps: the reads of items, of users and of tokens.
type Counting struct {
	items.Store
	ItemCalls, PageCalls, CountCalls atomic.Int64 // Item, Items, CountItems
	UserCalls                        atomic.Int64 // Users
	TokenLookups, TokenRevisions     atomic.Int64 // TokenByHash, TokenRevision
}

// Reads is the number of reads of items: Item, Items and CountItems.
func (c *Counting) Reads() int64 {
	return c.ItemCalls.Load() + c.PageCalls.Load() + c.CountCalls.Load()
}

func (c *Counting) Item(ctx context.Context, id int64) (items.Item, error) {
	c.ItemCalls.Add(1)
	return c.Store.Item(ctx, id)
}

func (c *Counting) Items(ctx context.Context, q items.ItemQuery) ([]items.Item, error) {
	c.PageCalls.Add(1)
	return c.Store.Items(ctx, q)
}

func (c *Counting) CountItems(ctx context.Context, search string) (int, error) {
	c.CountCalls.Add(1)
	return c.Store.CountItems(ctx, search)
}

func (c *Counting) Users(ctx context.Context, ids []int64) ([]items.User, error) {
	c.UserCalls.Add(1)
	return c.Store.Users(ctx, ids)
}

func (c *Counting) TokenByHash(ctx context.Context, h items.TokenHash) (items.Token, items.User, error) {
	c.TokenLookups.Add(1)
	return c.Store.TokenByHash(ctx, h)
}

func (c *Counting) TokenRevision(ctx context.Context) (int64, error) {
	c.TokenRevisions.Add(1)
	return c.Store.TokenRevision(ctx)
}

// ErrSecret is what a Faulty store fails with unless told otherwise: a
// message no client may ever see.
var ErrSecret = errors.New("disk /var/lib/secret is on fire")

// Faulty is a store whose reads and writes of items and users, and whose
// Ping, fail once Fail is set (with Err, or ErrSecret when Err is nil),
// as a store whose disk or database is gone, or panic once Panic is set,
// as a store with a bug. A failing call does not reach the store it
// wraps.
type Faulty struct {
	items.Store
	Err         error
	Fail, Panic atomic.Bool
}

// err is what a call returns before it reaches the store.
func (s *Faulty) err() error {
	if s.Panic.Load() {
		panic("store bug: nil map in /srv/secret")
	}
	if !s.Fail.Load() {
		return nil
	}
	if s.Err == nil {
		return ErrSecret
	}
	return s.Err
}

func (s *Faulty) Item(ctx context.Context, id int64) (items.Item, error) {
	if err := s.err(); err != nil {
		return items.Item{}, err
	}
	return s.Store.Item(ctx, id)
}

func (s *Faulty) Items(ctx context.Context, q items.ItemQuery) ([]items.Item, error) {
	if err := s.err(); err != nil {
		return nil, err
	}
	return s.Store.Items(ctx, q)
}

func (s *Faulty) AddItem(ctx context.Context, n items.NewItem) (items.Item, error) {
	if err := s.err(); err != nil {
		return items.Item{}, err
	}
	return s.Store.AddItem(ctx, n)
}

func (s *Faulty) Users(ctx context.Context, ids []int64) ([]items.User, error) {
	if err := s.err(); err != nil {
		return nil, err
	}
	return s.Store.Users(ctx, ids)
}

func (s *Faulty) Ping(ctx context.Context) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Store.Ping(ctx)
}
