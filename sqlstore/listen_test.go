package sqlstore

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// pgxConn is a Listener on a pgx connection of its own: the adapter Example_listener shows.
type pgxConn struct{ c *pgx.Conn }

func (l pgxConn) Listen(ctx context.Context, channel string) error {
	_, err := l.c.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize())
	return err
}

func (l pgxConn) Wait(ctx context.Context) (string, error) {
	n, err := l.c.WaitForNotification(ctx)
	if err != nil {
		return "", err
	}
	return n.Payload, nil
}

func (l pgxConn) Close() error { return l.c.Close(context.Background()) }

// pgxListener returns a WithListener dial for dsn.
func pgxListener(dsn string) func(ctx context.Context) (Listener, error) {
	return func(ctx context.Context) (Listener, error) {
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return nil, err
		}
		return pgxConn{c}, nil
	}
}
