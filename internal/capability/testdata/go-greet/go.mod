module example.com/greet

go 1.24

require golang.org/x/text v0.21.0
