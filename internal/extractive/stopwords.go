package extractive

// stopwords are question terms that say nothing about the topic: English
// function and question words, and Korean particles, question words and
// verb endings as lexical produces them (single syllables or bigrams).
// A question made only of these has no answer in any document.
//
// The map is read-only.
var stopwords = func() map[string]bool {
	m := make(map[string]bool)
	for _, w := range []string{
		// English.
		"a", "about", "after", "all", "also", "am", "an", "and", "any", "are", "as", "at",
		"be", "been", "before", "being", "between", "both", "but", "by", "can", "could",
		"describe", "did", "do", "does", "doing", "done", "during", "each", "explain",
		"for", "from", "get", "gets", "give", "had", "has", "have", "having", "he", "her",
		"here", "him", "his", "how", "i", "if", "in", "into", "is", "it", "its", "let",
		"me", "might", "more", "most", "much", "must", "my", "no", "not", "of", "on", "or",
		"other", "our", "out", "over", "please", "should", "so", "some", "such", "tell",
		"than", "that", "the", "their", "them", "then", "there", "these", "they", "this",
		"those", "through", "to", "under", "up", "us", "use", "used", "using", "very",
		"was", "we", "were", "what", "when", "where", "whether", "which", "while", "who",
		"whom", "whose", "why", "will", "with", "would", "you", "your",
		// Korean particles and single syllables.
		"은", "는", "이", "가", "을", "를", "의", "에", "와", "과", "도", "로", "만", "뭐",
		"왜", "몇", "그", "저", "것", "수", "등", "및", "더", "좀", "한", "할", "하", "해",
		"된", "될", "돼", "나", "요",
		// Korean question words, particles and endings as bigrams.
		"무엇", "엇인", "엇입", "엇을", "엇이", "엇은", "뭔가", "뭐예", "뭐야", "뭐지",
		"어떻", "떻게", "어떤", "떤가", "어디", "디에", "디서", "디인", "언제", "누가",
		"누구", "얼마", "마나", "인가", "가요", "나요", "까요", "니까", "입니", "습니",
		"합니", "니다", "하나", "하는", "하면", "해야", "해요", "있나", "있습", "있는",
		"없나", "는가", "는지", "은지", "인지", "할까", "되나", "되는", "인데", "예요",
		"에요", "이에", "알려", "려주", "주세", "세요", "설명", "명해", "해주", "대해",
		"대한", "관해", "관한", "에서", "에는", "으로", "에게", "한테", "위한", "위해",
	} {
		m[w] = true
	}
	return m
}()
