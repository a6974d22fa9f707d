package tableau

import (
	"context"
	"sync"
	"sync/atomic"
)

// SharedToken lets the clients of several sites use one personal access token — a
// server administrator's on Tableau Server. A token holds one session at a time, on
// one site: signing in to another site ends it. So the clients take turns: a call
// waits for the token, and a call for another site than the token's current one
// signs in to its site first (the previous site's client forgets its session and
// signs in again when its turn comes). Correct, at the cost of a sign-in per switch
// and calls one at a time: a token per site lets sites work at once.
type SharedToken struct {
	once     sync.Once
	turn     chan struct{} // holds one: whose turn it is
	current  *Client       // under turn
	switches atomic.Int64
}

// Switches counts the sign-ins made to move the token from one site to another.
func (t *SharedToken) Switches() int64 { return t.switches.Load() }

// take waits for the token (or ctx's end) and makes c its holder; release gives it
// back.
func (t *SharedToken) take(ctx context.Context, c *Client) (release func(), err error) {
	t.once.Do(func() { t.turn = make(chan struct{}, 1) })
	select {
	case t.turn <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if t.current != c {
		if t.current != nil {
			t.current.forget()
			t.switches.Add(1)
		}
		t.current = c
	}
	return func() { <-t.turn }, nil
}

// SharesToken reports whether the client takes turns with other sites' clients on
// one token: each of its calls may cost a sign-in.
func (c *Client) SharesToken() bool { return c.cfg.Token != nil }

// forget drops the client's session: the token now serves another site.
func (c *Client) forget() {
	c.mu.Lock()
	c.token, c.moved = "", true
	c.mu.Unlock()
}

// turn waits for the shared token, if the client has one.
func (c *Client) turn(ctx context.Context) (release func(), err error) {
	if c.cfg.Token == nil {
		return func() {}, nil
	}
	return c.cfg.Token.take(ctx, c)
}
