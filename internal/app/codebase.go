package app

import (
	"embed"
	"io/fs"
)

//go:embed codebase
var codebase embed.FS

// Codebase holds the demo's static files, such as static/style.css, for the
// web role to serve at the same paths.
var Codebase fs.FS = mustSub(codebase, "codebase")

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err)
	}
	return sub
}
