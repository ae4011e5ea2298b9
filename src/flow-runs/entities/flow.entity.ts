import { Column, Entity, PrimaryColumn } from 'typeorm';

@Entity({ name: 'flow' })
export class FlowEntity {
  @PrimaryColumn('uuid') id!: string;
  @Column('timestamptz') created!: string;
  @Column('timestamptz') updated!: string;
  @Column('text') name!: string;
  @Column('jsonb') tags!: string[];
  @Column('jsonb', { nullable: true }) labels!: Record<string, unknown> | null;
}
