module example.com/greet/cmd/greet

go 1.24

require (
	example.com/greet v1.2.0
	example.com/greet/tools v0.0.0
	github.com/spf13/cobra v1.10.2
)

require (
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/spf13/pflag v1.0.10 // indirect
)

replace example.com/greet => ../go-greet

replace example.com/greet/tools => ./tools

replace github.com/spf13/pflag v1.0.9 => ./pflag-fork
