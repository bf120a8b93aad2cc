package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/rampart-dev/rampart/internal/app"
)

// runDemoApp runs the built-in demo application on $HOST:$PORT. The app
// role starts it; it is not meant to be run by hand. When the site has db
// servers, the app role sets RAMPART_DB_DSN and the guestbook lives in
// MariaDB, reached through the app server's router; otherwise it lives in
// memory and the page says so.
func runDemoApp(ctx context.Context, args []string) error {
	port := os.Getenv("PORT")
	if port == "" {
		return errors.New("demo-app: PORT is not set (the app role sets it)")
	}
	var store app.GuestbookStore = app.NewMemoryStore()
	cfg, ok, err := app.MySQLConfigFromEnv(os.Getenv)
	if err != nil {
		return fmt.Errorf("demo-app: database: %w", err)
	}
	if ok {
		mysqlStore, err := app.NewMySQLStore(cfg)
		if err != nil {
			return fmt.Errorf("demo-app: database: %w", err)
		}
		defer mysqlStore.Close()
		store = mysqlStore
	}
	return app.RunDemoStore(ctx, net.JoinHostPort(os.Getenv("HOST"), port), os.Getenv("RAMPART_SERVER"), store)
}
