import { InteractiveUser } from './InteractiveUser.ts';

/**
 * An interactive user, as honest as the others, whose records come from
 * another place than the model's traffic: New York days against the
 * Seattle model, drawn from the same table Knockoff Nets and ActiveThief
 * take their transfer sets from. Not one of issue 4's populations: it
 * measures what judging a key by its input distribution costs a
 * legitimate user whose data differ (a new region, a new customer).
 */
export class UserFromElsewhere extends InteractiveUser {
  override readonly population = 'users from elsewhere';
}
