/** Text search terms (docs/reference.md §2): plain terms are ORed, `+term` required, `-term` excluded, `"a phrase"` one term. */
export interface TextTerms {
  include: string[];
  required: string[];
  exclude: string[];
}

/** Splits a `text.query` into its terms (the SQL compiler and the in-memory matcher share it). */
export function parseTextQuery(query: string): TextTerms {
  const terms: TextTerms = { include: [], required: [], exclude: [] };
  const re = /([+-]?)(?:"([^"]*)"|(\S+))/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(query))) {
    const term = (m[2] ?? m[3] ?? '').trim();
    if (!term) {
      continue;
    }
    if (m[1] === '+') {
      terms.required.push(term);
    } else if (m[1] === '-') {
      terms.exclude.push(term);
    } else {
      terms.include.push(term);
    }
  }
  return terms;
}
