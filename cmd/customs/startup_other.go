//go:build !linux

package main

// dropStartupPages is Linux's (startup_linux.go).
func dropStartupPages() {}
