package main
import "fmt"
func main(){ fmt.Println(total([]int{1,2,3})) }
func total(p []int) int { s:=0; for _,x:=range p { s+=x }; return s }
