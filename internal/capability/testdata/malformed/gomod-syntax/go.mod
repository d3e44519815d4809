module example.com/broken

go 1.24

require example.com/dep
frobnicate example.com/x
