module example.com/greet/server

go 1.24

require (
	example.com/greet v1.2.0
	golang.org/x/tools v0.30.0
	golang.org/x/mod v0.22.0
)
