/** The `--dtype` option of every command that computes: one definition, one wording. */
export const DTYPES = ['fp32', 'bf16', 'auto'] as const;
export type CliDtype = (typeof DTYPES)[number];

export const dtypeOption = {
  choices: DTYPES,
  default: 'fp32' as CliDtype,
  describe: 'fp32 (exact) | bf16 (CUDA, or a CPU with AMX / AVX512-BF16) | auto (bf16 where it runs natively)',
};
