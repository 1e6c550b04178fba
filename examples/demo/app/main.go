// demo-app is the demo image's application: a tiny HTTP service built with a
// deliberately old golang.org/x/text and an old Go toolchain, so a scan of
// the demo image has real findings to show.
package main

import (
	"fmt"
	"net/http"
	"os"

	"golang.org/x/text/language"
)

func main() {
	tag, err := language.Parse(os.Getenv("LANG_TAG"))
	if err != nil {
		tag = language.English
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "hello", tag) })
	if err := http.ListenAndServe(":8080", nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
