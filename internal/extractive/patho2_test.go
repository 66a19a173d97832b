package extractive
import ("testing";"strings")
func BenchmarkPatho(b *testing.B){
  s := strings.Repeat("`a ", 200000/3)
  for b.Loop() { segment(s, false) }
}
