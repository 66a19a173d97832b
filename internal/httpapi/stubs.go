package httpapi

import "github.com/danielgtaylor/huma/v2"

// Summaries produces document summaries.
type Summaries interface{}

// Answerer answers questions.
type Answerer interface{}

func (s *Server) registerSummaries(api huma.API) {}
func (s *Server) registerAnswers(api huma.API)   {}
