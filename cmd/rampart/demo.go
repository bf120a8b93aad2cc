package main

import (
	"context"
	"errors"
	"net"
	"os"

	"github.com/rampart-dev/rampart/internal/app"
)

// runDemoApp runs the built-in demo application on $HOST:$PORT. The app
// role starts it; it is not meant to be run by hand.
func runDemoApp(ctx context.Context, args []string) error {
	port := os.Getenv("PORT")
	if port == "" {
		return errors.New("demo-app: PORT is not set (the app role sets it)")
	}
	return app.RunDemo(ctx, net.JoinHostPort(os.Getenv("HOST"), port), os.Getenv("RAMPART_SERVER"))
}
