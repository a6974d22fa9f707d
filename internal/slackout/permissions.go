package slackout

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// CheckScopes fails when the token cannot post at all. Slack reports scopes only for
// some token types; none reported means nothing to check.
func CheckScopes(a Auth) error {
	if len(a.Scopes) == 0 || slices.Contains(a.Scopes, "chat:write") {
		return nil
	}
	return &Error{Op: "auth.test", Code: "missing_scope", Permanent: true, NoEffect: true, Err: errors.New("the token lacks chat:write")}
}

// CanPost checks that the channel exists and the bot may post there: a member, or a
// public channel with chat:write.public. When Slack reports no scopes (some token
// types), a public channel gets the benefit of the doubt: the first post will tell.
// The relay's start-up and doctor both ask this, so they never disagree.
func (c *Client) CanPost(ctx context.Context, a Auth, channel string) (ChannelInfo, error) {
	if _, err := c.ChannelID(ctx, channel); err != nil {
		return ChannelInfo{}, err
	}
	info, err := c.Channel(ctx, channel)
	if err != nil {
		return ChannelInfo{}, err
	}
	public := len(a.Scopes) == 0 || slices.Contains(a.Scopes, "chat:write.public")
	if !info.IsMember && (info.IsPrivate || !public) {
		return info, &Error{Op: "check channel " + channel, Code: "not_in_channel", Permanent: true, NoEffect: true,
			Err: fmt.Errorf("the bot is not a member of #%s", info.Name)}
	}
	return info, nil
}
