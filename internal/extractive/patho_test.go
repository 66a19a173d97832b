package extractive
import ("testing";"time";"strings";"context";"github.com/protostar/protostar")
func TestPatho(t *testing.T){
 for _, unit := range []string{"`a ", "](x ", "[a ", "*a ", "_a_ ", "![", "<http://x ", "~~a ", "\\* ", "> ", "- ", "a. ", "데이터. ", "| ", "```\n", "\"좋다.\" 라고 "} {
  s := strings.Repeat(unit, 200000/len(unit))
  st := time.Now()
  segment(s, false)
  d1 := time.Since(st)
  st = time.Now()
  New().Summarize(context.Background(), protostar.SummaryInput{Text: s, Length: "long"})
  d2 := time.Since(st)
  st = time.Now()
  New().Answer(context.Background(), "데이터 a x", []protostar.Passage{{Index:1, Text: s}}, nil)
  t.Logf("%q seg %v sum %v ans %v", unit, d1, d2, time.Since(st))
 }
}
