package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"strings"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/shoptoken/shoptoken/sqlstore"
)

// Migration returns the SQL to review and run with your own migration tool; here, the tables
// of a Store with the prefix "myapp_" on MySQL.
func ExampleMigration() {
	m, err := sqlstore.Migration(sqlstore.MySQL, "myapp_")
	if err != nil {
		log.Fatal(err)
	}
	for _, line := range strings.Split(m, "\n") {
		if strings.HasPrefix(line, "CREATE") {
			fmt.Println(line)
		}
	}
	// Output:
	// CREATE TABLE IF NOT EXISTS myapp_tokens (
	// CREATE TABLE IF NOT EXISTS myapp_leases (
	// CREATE TABLE IF NOT EXISTS myapp_due (
}

// listener is a sqlstore.Listener on a pgx connection of its own.
type listener struct{ c *pgx.Conn }

func (l listener) Listen(ctx context.Context, channel string) error {
	_, err := l.c.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize())
	return err
}

func (l listener) Wait(ctx context.Context) (string, error) {
	n, err := l.c.WaitForNotification(ctx)
	if err != nil {
		return "", err
	}
	return n.Payload, nil
}

func (l listener) Close() error { return l.c.Close(context.Background()) }

// With pgx, a Store on PostgreSQL listens for the notifications of every other Store on its
// tables through this adapter, and wakes its watchers and lease waiters at once instead of at the
// next poll. (sql.Open and New connect to nothing: the Store dials the listener when it first
// waits for something.)
func Example_listener() {
	const dsn = "postgres://app@db.example:5432/app"
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	store, err := sqlstore.New(context.Background(), db, sqlstore.Postgres,
		sqlstore.WithListener(func(ctx context.Context) (sqlstore.Listener, error) {
			c, err := pgx.Connect(ctx, dsn)
			if err != nil {
				return nil, err
			}
			return listener{c}, nil
		}))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	fmt.Println("listening on", sqlstore.DefaultPrefix+"changes")
	// Output: listening on shoptoken_changes
}
