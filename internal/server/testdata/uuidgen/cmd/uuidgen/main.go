// Command uuidgen prints the name-based UUID of its argument: a tiny
// program with one real dependency from the Go module proxy.
package main

import (
	"fmt"
	"os"

	"github.com/google/uuid"
)

func main() {
	fmt.Println(uuid.NewSHA1(uuid.NameSpaceURL, []byte(os.Args[1])))
}
