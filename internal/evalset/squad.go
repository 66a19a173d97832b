// Package evalset holds the data of `protostar eval retrieval`: a
// SQuAD-format set's paragraphs and questions, and the distractor passages
// added beside them (real passages from other files, or synthetic ones
// generated from the set's own statistics) to measure how ranking holds up
// as the corpus grows.
package evalset

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// Set is a SQuAD file's paragraphs and questions.
type Set struct {
	Paragraphs []string
	Questions  []Question
}

// Question is one question and the paragraph that answers it.
type Question struct {
	Text      string
	Paragraph int // index in Set.Paragraphs
}

// ReadSQuAD reads the paragraphs and questions of a SQuAD 1.1-format file
// (SQuAD 1.1, KorQuAD 1.0), keeping at most maxQ questions (0: all) evenly
// spread over it. Empty paragraphs are skipped; a file without questions is
// an error.
func ReadSQuAD(path string, maxQ int) (Set, error) {
	s, err := readSQuAD(path)
	if err != nil {
		return s, err
	}
	if len(s.Questions) == 0 {
		return s, fmt.Errorf("read %s: no questions", path)
	}
	if maxQ > 0 && maxQ < len(s.Questions) {
		picked := make([]Question, maxQ)
		for i := range picked {
			picked[i] = s.Questions[i*len(s.Questions)/maxQ]
		}
		s.Questions = picked
	}
	return s, nil
}

func readSQuAD(path string) (Set, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Set{}, err
	}
	var f struct {
		Data []struct {
			Paragraphs []struct {
				Context string `json:"context"`
				QAs     []struct {
					Question string `json:"question"`
				} `json:"qas"`
			} `json:"paragraphs"`
		} `json:"data"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return Set{}, fmt.Errorf("read %s: not SQuAD JSON: %w", path, err)
	}
	var s Set
	for _, article := range f.Data {
		for _, p := range article.Paragraphs {
			if strings.TrimSpace(p.Context) == "" {
				continue
			}
			for _, qa := range p.QAs {
				if strings.TrimSpace(qa.Question) != "" {
					s.Questions = append(s.Questions, Question{Text: qa.Question, Paragraph: len(s.Paragraphs)})
				}
			}
			s.Paragraphs = append(s.Paragraphs, p.Context)
		}
	}
	return s, nil
}
