/** The problem+json body builder lives in src/problem.ts (the gateway answers with it too). */
export { PROBLEM_TYPE_BASE, type ProblemBody, problemOf } from '../problem.js';
