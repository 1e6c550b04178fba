// Package catalogers lists every cataloger customs runs: adding an ecosystem
// is one folder under inspect/ and one line here.
package catalogers

import (
	"github.com/customs-sec/customs/inspect"
	"github.com/customs-sec/customs/inspect/apk"
	"github.com/customs-sec/customs/inspect/dotnet"
	"github.com/customs-sec/customs/inspect/dpkg"
	"github.com/customs-sec/customs/inspect/gobinary"
	"github.com/customs-sec/customs/inspect/java"
	"github.com/customs-sec/customs/inspect/npm"
	"github.com/customs-sec/customs/inspect/osrelease"
	"github.com/customs-sec/customs/inspect/php"
	"github.com/customs-sec/customs/inspect/python"
	"github.com/customs-sec/customs/inspect/rpm"
	"github.com/customs-sec/customs/inspect/ruby"
	"github.com/customs-sec/customs/inspect/rust"
)

// OS returns the distribution detector and the OS package catalogers.
func OS() []inspect.Cataloger {
	return []inspect.Cataloger{
		osrelease.Detector{},
		dpkg.Cataloger{},
		apk.Cataloger{},
		rpm.Cataloger{},
	}
}

// Applications returns the catalogers of application dependencies.
func Applications() []inspect.Cataloger {
	return []inspect.Cataloger{
		gobinary.New(),
		npm.Cataloger{},
		python.Cataloger{},
		java.Cataloger{},
		ruby.Cataloger{},
		php.Cataloger{},
		rust.Cataloger{},
		dotnet.Cataloger{},
	}
}

// Packages returns every package cataloger: OS and application.
func Packages() []inspect.Cataloger {
	return append(OS(), Applications()...)
}
