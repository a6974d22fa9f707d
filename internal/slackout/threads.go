package slackout

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/tabhook/tabhook/internal/render"
)

// FindReply is FindPosted for a reply: thread replies are not in the channel's
// history, so the thread is read (conversations.replies).
func (c *Client) FindReply(ctx context.Context, ch, threadTS, identity string, oldest time.Time) (ts string, found bool, err error) {
	self, err := c.whoami(ctx)
	if err != nil {
		return "", false, err
	}
	params := &slack.GetConversationRepliesParameters{ChannelID: ch, Timestamp: threadTS, Oldest: strconv.FormatInt(oldest.Unix(), 10), Limit: 200, IncludeAllMetadata: true}
	for {
		msgs, more, cursor, err := c.slack().GetConversationRepliesContext(ctx, params)
		if err != nil {
			return "", false, classify("read thread", err)
		}
		for _, m := range msgs {
			if m.Timestamp != threadTS && isOwn(m, self) && stands(m, identity) {
				return m.Timestamp, true, nil
			}
		}
		if !more || cursor == "" {
			return "", false, nil
		}
		params.Cursor = cursor
	}
}

// Update rewrites a message this bot posted (chat.update): a refresh's opening
// message, say, once the refresh has ended. It keeps the message's metadata.
func (c *Client) Update(ctx context.Context, ch, ts string, m render.Message) error {
	release, err := c.take(ctx, ch, true)
	if err != nil {
		return err
	}
	defer release()
	_, _, _, err = c.slack().UpdateMessageContext(ctx, ch, ts, slack.MsgOptionText(m.Text, false), slack.MsgOptionBlocks(m.Blocks...))
	if err != nil {
		err = classify("update message", err)
		c.backOff(ch, err)
		return err
	}
	return nil
}

// Permalink is a message's link (chat.getPermalink): what a reader clicks to reach it.
func (c *Client) Permalink(ctx context.Context, ch, ts string) (string, error) {
	link, err := c.slack().GetPermalinkContext(ctx, &slack.PermalinkParameters{Channel: ch, Ts: ts})
	if err != nil {
		return "", classify("get permalink", err)
	}
	return link, nil
}

// users remembers users.lookupByEmail's answers, a miss included, for an hour.
type users struct {
	ttl time.Duration

	mu    sync.Mutex
	known map[string]userEntry
}

type userEntry struct {
	id   string // "" when no Slack user has the address
	seen time.Time
}

func newUsers() *users { return &users{ttl: time.Hour, known: map[string]userEntry{}} }

// ErrNoUser says no Slack user has the address.
var ErrNoUser = errors.New("no Slack user has this e-mail address")

// UserByEmail returns the Slack user ID with this address (users.lookupByEmail, scope
// users:read.email); ErrNoUser when there is none. Other errors (a missing scope, a
// rate limit) are Slack's, classified.
func (c *Client) UserByEmail(ctx context.Context, email string) (string, error) {
	u := c.users
	key := strings.ToLower(strings.TrimSpace(email))
	u.mu.Lock()
	e, ok := u.known[key]
	u.mu.Unlock()
	if ok && time.Since(e.seen) < u.ttl {
		if e.id == "" {
			return "", ErrNoUser
		}
		return e.id, nil
	}
	user, err := c.slack().GetUserByEmailContext(ctx, key)
	switch {
	case err != nil && Code(classify("look up user", err)) == "users_not_found":
		e = userEntry{seen: time.Now()}
	case err != nil:
		return "", classify("look up user by e-mail", err)
	default:
		e = userEntry{id: user.ID, seen: time.Now()}
	}
	u.mu.Lock()
	u.known[key] = e
	u.mu.Unlock()
	if e.id == "" {
		return "", ErrNoUser
	}
	return e.id, nil
}

// GroupMembers lists a user group's members (usergroups.users.list; the
// usergroups:read scope): who actions.allow lets act when it names the group.
func (c *Client) GroupMembers(ctx context.Context, group string) ([]string, error) {
	members, err := c.slack().GetUserGroupMembersContext(ctx, group)
	if err != nil {
		return nil, classify("list user group members", err)
	}
	return members, nil
}
