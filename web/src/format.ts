// Small text helpers shared by the pages.

/** "1 event", "3 events". */
export const plural = (n: number, word: string, many = `${word}s`) => `${n} ${n === 1 ? word : many}`;

/** First letter only ("traffic light" -> "Traffic light"); CSS `capitalize` would do every word of a title. */
export const capitalise = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
