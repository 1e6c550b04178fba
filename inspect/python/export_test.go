package python

// ParseTOML exposes the TOML reader to the external tests.
var ParseTOML = parseTOML
