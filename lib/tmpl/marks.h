/* The marks: the numbers through which the generated jq program tells the
 * renderer what it outputs.  The generator (gen.c) writes them into
 * the program as number literals, the renderer (render.c) reads them
 * back from the doubles that jq outputs; both use these functions and no
 * arithmetic of their own.
 *
 * Every output of the program is a mark, or the value a mark announced:
 *
 *   2i        literal i: copy that piece of template text;
 *   2e+1      expression e: the next output is a value of e, to check
 *             and substitute;
 *   -(8b+1)   {{ memo }} block b: copy the text kept for its key;
 *   -(8b+2)   block b's body begins: its text, up to
 *   -(8b+3)   block b's body end, is to be kept for its key;
 *   -(8b+4)   {{ each }} block b begins (the directories it renders
 *             again follow, then its end);
 *   -(8b+5)   the next output is the name of a directory, whose body
 *             text, up to
 *   -(8b+6)   the end of that body, is to be kept for it;
 *   -(8b+7)   block b's end: copy the text of all its directories;
 *   -(8b+8)   list b: the next output is an array, each of whose
 *             elements is rendered between the texts around the
 *             expression "." of a range's body (see struct list).
 *
 * Literals and expressions share the numbers from 0 up, told apart by
 * parity; blocks take the negative ones, eight to a block.  Each mark is
 * an integer small enough for a double to hold exactly, and the program
 * can output no other number where a mark is expected: a user value only
 * ever comes after the 2e+1 of its expression. */
#ifndef EASYLB_TMPL_MARKS_H
#define EASYLB_TMPL_MARKS_H

#include <stddef.h>

#include <jv.h>

enum mark {
	MARK_BAD, /* no mark this program writes */
	MARK_LIT,
	MARK_VALUE,
	MARK_BLOCK_KEPT,
	MARK_BLOCK_BEGIN,
	MARK_BLOCK_END,
	MARK_EACH_BEGIN,
	MARK_EACH_DIR,
	MARK_EACH_DIR_END,
	MARK_EACH_END,
	MARK_LIST,
};

#define MARKS_PER_BLOCK 8

/* Block b's mark of kind m (MARK_BLOCK_KEPT to MARK_LIST). */
static inline long long
mark_block(size_t block, enum mark m)
{
	return -(MARKS_PER_BLOCK * (long long)block +
		 (long long)(m - MARK_BLOCK_KEPT) + 1);
}

static inline long long
mark_lit(size_t lit)
{
	return 2 * (long long)lit;
}

static inline long long
mark_value(size_t expr)
{
	return 2 * (long long)expr + 1;
}

/* Read output v (borrowed) of a program with nlits literals, nexprs
 * expressions and nblocks {{ memo }} and {{ each }} blocks as a mark: its kind,
 * and in *i the literal, expression or block it names. */
static inline enum mark
mark_read(jv v, size_t nlits, size_t nexprs, size_t nblocks, size_t *i)
{
	double d;
	size_t m;

	if (jv_get_kind(v) != JV_KIND_NUMBER)
		return MARK_BAD;
	d = jv_number_value(v);
	/* The range first, so that the conversions are defined. */
	if (!(d >= -(double)MARKS_PER_BLOCK * nblocks &&
	      d <= 2.0 * (nlits + nexprs)) ||
	    d != (double)(long long)d)
		return MARK_BAD;
	if (d < 0) {
		m = (size_t)-d - 1;
		*i = m / MARKS_PER_BLOCK;
		return (enum mark)(MARK_BLOCK_KEPT + m % MARKS_PER_BLOCK);
	}
	m = (size_t)d;
	*i = m / 2;
	if (m % 2)
		return *i < nexprs ? MARK_VALUE : MARK_BAD;
	return *i < nlits ? MARK_LIT : MARK_BAD;
}

#endif
