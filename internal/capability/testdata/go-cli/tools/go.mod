module example.com/greet/tools

go 1.24
